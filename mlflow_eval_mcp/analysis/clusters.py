"""Deterministic grouping of requests (lexical topics) and of errors (by signature).

`cluster_inputs` finds groups of similar requests so that an evaluation dataset can be stratified
over them. It is lexical on purpose: no embedding model (no download, no network), nothing random
beyond a fixed seed, and fast enough for `MAX_TRACES_LIMIT` (50,000) requests:

1. Tokenise: lower-case unicode word characters; English stop words, chat fillers and one-character
   tokens dropped; number-like tokens (order ids, amounts, dates) become ``<num>``; runs of Han /
   kana characters (written without spaces) become character bigrams.
2. TF-IDF: sublinear tf (1 + log tf), smooth idf, l2-normalised rows, over a capped vocabulary (the
   `MAX_VOCABULARY` terms of highest document frequency; terms seen in a single request are dropped
   once there are `MIN_DF_FROM` requests, as they cannot make two requests similar).
   Requests with identical vectors are clustered once, with their count as weight.
3. Spherical k-means (cosine), k-means++ seeding from ``numpy.random.RandomState(0)``, at most
   `KMEANS_ITERATIONS` Lloyd iterations, over a deliberately generous k (see `_initial_k`), then
   average-linkage merging of the clusters whose centroids stay similar (see `MERGE_SIMILARITY`).
   Over-segmenting then merging is what makes k follow the data: k-means alone with a k from a
   size rule splits big topics into arbitrary halves (and sometimes joins small ones), while the
   merge step joins exactly the pieces that share their vocabulary, and stops at real topic
   boundaries. The sparse algebra is plain numpy (CSR arrays, chunked), so memory stays bounded.

Requests that keep no term at all (only stop words, punctuation or numbers seen once) form one
extra cluster without top terms, so that every non-empty request is in exactly one cluster.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from mlflow_eval_mcp.analysis.models import ErrorCluster, InputCluster

MAX_VOCABULARY = 5_000
MIN_DF_FROM = 100
"""From this many requests on, a term must occur in at least two of them to be kept."""
KMEANS_ITERATIONS = 20
OVERSEGMENT = 2
MERGE_SIMILARITY = 0.3
"""Average-linkage merging stops when no two clusters' members are this similar on average."""
TOP_TERMS = 6
EXAMPLE_CHARS = 200
SEED = 0
NUM = "<num>"
_MAX_TOKEN_CHARS = 40
_CHUNK_ELEMENTS = 1 << 20
"""Bound on the temporary (non-zeros x clusters) array of one chunk of the similarity product."""

_WORD = re.compile(r"\w+")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Function words (in the spirit of the usual English lists) plus the pieces `\w+` leaves of
# contractions ("don't" -> "don") and chat fillers ("hi", "thanks", "please"): the fillers say
# nothing about what a request is about, and users add them at random.
_STOP_WORDS_TEXT = """
    a about above after again against all almost also am among an and any anyone anything are aren
    as at be because been before being below between both but by can cannot could couldn did didn
    do does doesn doing don done down during each either else even ever every few for from further
    get got had hadn has hasn have haven having he her here hers herself him himself his how however
    i if in into is isn it its itself just let ll me might more most much must mustn my myself need
    needn no nor not now of off often on once one only or other others ought our ours ourselves out
    over own per quite rather re really same shall shan she should shouldn since so some something
    still such than that the their theirs them themselves then there these they this those though
    through thus to too under until up upon us ve very via was wasn we were weren what whatever when
    where whether which while who whom whose why will with within without won would wouldn yet you
    your yours yourself yourselves
    hi hello hey dear thanks thank thx ty please pls plz ok okay yes yeah yep sure hmm um uh
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


def cluster_inputs(
    requests: Sequence[tuple[str, str]], *, max_clusters: int = 12, examples: int = 3
) -> list[InputCluster]:
    """Group `(trace_id, request text)` pairs into lexical clusters, largest first.

    Every request with non-blank text is in exactly one cluster; blank ones are ignored.
    Same input -> identical output.
    """
    max_clusters = max(1, max_clusters)
    members = [(trace_id, text) for trace_id, text in requests if text and text.strip()]
    if not members:
        return []
    documents = [Counter(tokenize(text)) for _, text in members]
    vocabulary = _vocabulary(documents)
    rows, weights, row_members, termless = _unique_rows(documents, vocabulary)

    groups: list[tuple[list[int], np.ndarray | None]] = []
    closeness = [0.0] * len(members)  # cosine of each request to its cluster's centroid
    if rows:
        matrix = _tfidf(rows, documents, vocabulary, len(members))
        weight = np.asarray(weights, dtype=np.float64)
        limit = max(1, max_clusters - (1 if termless else 0))
        k = min(_initial_k(len(rows), limit), len(rows))
        labels = _merge(matrix, weight, _spherical_kmeans(matrix, weight, k), limit)
        centroids = _centroid_sums(matrix, weight, labels, int(labels.max()) + 1)
        fit = np.take_along_axis(_row_dot(matrix, _normalized(centroids).T), labels[:, None], axis=1)[:, 0]
        grouped: list[list[int]] = [[] for _ in range(centroids.shape[0])]
        for row, label in enumerate(labels.tolist()):
            grouped[label].extend(row_members[row])
            for i in row_members[row]:
                closeness[i] = float(fit[row])
        groups.extend((sorted(indices), centroids[label]) for label, indices in enumerate(grouped))
    if termless:
        groups.append((termless, None))

    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    groups.sort(key=lambda group: (-len(group[0]), group[0][0]))
    return [
        InputCluster(
            cluster_id=number,
            size=len(indices),
            top_terms=[] if centroid is None else _top_terms(centroid, terms),
            examples=_examples(indices, closeness, members, examples),
            trace_ids=[members[i][0] for i in indices],
        )
        for number, (indices, centroid) in enumerate(groups)
    ]


def cluster_errors(errors: Sequence[tuple[str, str, str, str]], *, examples: int = 3) -> list[ErrorCluster]:
    """Group `(trace_id, span_name, signature, message)` by signature, most frequent first."""
    counts: Counter[str] = Counter()
    span_names: dict[str, set[str]] = {}
    samples: dict[str, list[str]] = {}
    trace_ids: dict[str, dict[str, None]] = {}
    for trace_id, span_name, signature, message in errors:
        counts[signature] += 1
        span_names.setdefault(signature, set()).add(span_name)
        trace_ids.setdefault(signature, {})[trace_id] = None
        kept = samples.setdefault(signature, [])
        sample = _clip(message)
        if len(kept) < examples and sample not in kept:
            kept.append(sample)
    return [
        ErrorCluster(
            signature=signature,
            count=count,
            span_names=sorted(span_names[signature]),
            examples=samples[signature],
            trace_ids=list(trace_ids[signature]),
        )
        for signature, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def tokenize(text: str) -> list[str]:
    """Lower-cased terms of one request (see the module docstring)."""
    tokens: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or len(word) > _MAX_TOKEN_CHARS or word in STOP_WORDS:
            continue
        digits = sum(char.isdigit() for char in word)
        if digits and (2 * digits >= len(word) or word.replace("_", "").isdigit()):
            tokens.append(NUM)
        elif _UNSPACED.search(word):
            tokens.extend(_bigrams(word))
        else:
            tokens.append(word)
    return tokens


def _bigrams(word: str) -> Iterable[str]:
    if len(word) <= 2:
        return (word,)
    return (word[i : i + 2] for i in range(len(word) - 1))


def _vocabulary(documents: Sequence[Counter[str]]) -> dict[str, int]:
    """Term -> column: the `MAX_VOCABULARY` most frequent terms (document frequency), ties by term."""
    df: Counter[str] = Counter()
    for document in documents:
        df.update(document.keys())
    min_df = 2 if len(documents) >= MIN_DF_FROM else 1
    kept = sorted((term for term, count in df.items() if count >= min_df), key=lambda term: (-df[term], term))
    return {term: column for column, term in enumerate(sorted(kept[:MAX_VOCABULARY]))}


def _unique_rows(
    documents: Sequence[Counter[str]], vocabulary: dict[str, int]
) -> tuple[list[tuple[tuple[int, int], ...]], list[int], list[list[int]], list[int]]:
    """Distinct (column, count) rows, how often each occurs, which requests have it, and the
    requests that keep no term."""
    index: dict[tuple[tuple[int, int], ...], int] = {}
    rows: list[tuple[tuple[int, int], ...]] = []
    weights: list[int] = []
    row_members: list[list[int]] = []
    termless: list[int] = []
    for i, document in enumerate(documents):
        key = tuple(sorted((vocabulary[term], count) for term, count in document.items() if term in vocabulary))
        if not key:
            termless.append(i)
            continue
        row = index.setdefault(key, len(rows))
        if row == len(rows):
            rows.append(key)
            weights.append(0)
            row_members.append([])
        weights[row] += 1
        row_members[row].append(i)
    return rows, weights, row_members, termless


class _Csr:
    """Rows of a sparse matrix (no empty rows): plain numpy arrays, like scipy's CSR."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, columns: int) -> None:
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.columns = columns
        self.rows = len(indptr) - 1
        self.row_of = np.repeat(np.arange(self.rows), np.diff(indptr))


def _tfidf(
    rows: Sequence[tuple[tuple[int, int], ...]],
    documents: Sequence[Counter[str]],
    vocabulary: dict[str, int],
    n_documents: int,
) -> _Csr:
    df = np.zeros(len(vocabulary), dtype=np.float64)
    for document in documents:
        for term in document:
            column = vocabulary.get(term)
            if column is not None:
                df[column] += 1
    idf = np.log((1.0 + n_documents) / (1.0 + df)) + 1.0
    lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    flat = np.fromiter((value for row in rows for pair in row for value in pair), dtype=np.int64)
    indices = flat[0::2]
    data = (1.0 + np.log(flat[1::2].astype(np.float64))) * idf[indices]
    norms = np.sqrt(np.add.reduceat(data * data, indptr[:-1]))
    data /= np.repeat(norms, lengths)
    return _Csr(indptr, indices, data, len(vocabulary))


def _row_dot(matrix: _Csr, dense: np.ndarray) -> np.ndarray:
    """`matrix @ dense` for a (columns x k) dense array, in chunks of rows to bound memory."""
    k = dense.shape[1]
    out = np.empty((matrix.rows, k), dtype=np.float64)
    per_chunk = max(1, _CHUNK_ELEMENTS // max(1, k))
    start = 0
    while start < matrix.rows:
        stop = int(np.searchsorted(matrix.indptr, matrix.indptr[start] + per_chunk, side="right")) - 1
        stop = min(matrix.rows, max(stop, start + 1))
        lo, hi = matrix.indptr[start], matrix.indptr[stop]
        products = matrix.data[lo:hi, None] * dense[matrix.indices[lo:hi]]
        out[start:stop] = np.add.reduceat(products, matrix.indptr[start:stop] - lo, axis=0)
        start = stop
    return out


def _centroid_sums(matrix: _Csr, weights: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    flat = labels[matrix.row_of] * matrix.columns + matrix.indices
    sums = np.bincount(flat, weights=matrix.data * weights[matrix.row_of], minlength=k * matrix.columns)
    return sums.reshape(k, matrix.columns)


def _normalized(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _initial_k(distinct: int, limit: int) -> int:
    """Generous on purpose (the merge step brings it down): ~ sqrt(n / 2), but never fewer than
    `limit` (a few dozen requests on three topics must not start as two clusters), and at most
    twice the limit."""
    if distinct < 2:
        return 1
    return min(distinct, max(limit, min(OVERSEGMENT * limit, round(math.sqrt(distinct / 2)))))


def _spherical_kmeans(matrix: _Csr, weights: np.ndarray, k: int) -> np.ndarray:
    """Row -> cluster label (0..k'-1, no empty cluster), weighted spherical k-means."""
    centers = _kmeans_plus_plus(matrix, weights, k)
    labels = np.full(matrix.rows, -1, dtype=np.int64)
    for _ in range(KMEANS_ITERATIONS):
        new_labels = np.argmax(_row_dot(matrix, centers.T), axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = _compact(new_labels)
        centers = _normalized(_centroid_sums(matrix, weights, labels, int(labels.max()) + 1))
    return labels


def _kmeans_plus_plus(matrix: _Csr, weights: np.ndarray, k: int) -> np.ndarray:
    """k-means++ seeding on cosine distance, each request counted with its weight."""
    rng = np.random.RandomState(SEED)
    chosen = [int(np.searchsorted(np.cumsum(weights), rng.random_sample() * weights.sum(), side="right"))]
    distance = np.clip(1.0 - _row_dot(matrix, _dense_row(matrix, chosen[0])[:, None])[:, 0], 0.0, None)
    while len(chosen) < k:
        mass = np.cumsum(weights * distance)
        if mass[-1] <= 1e-12:
            break  # every row coincides with a chosen centre
        pick = int(np.searchsorted(mass, rng.random_sample() * mass[-1], side="right"))
        pick = min(pick, matrix.rows - 1)
        chosen.append(pick)
        to_pick = 1.0 - _row_dot(matrix, _dense_row(matrix, pick)[:, None])[:, 0]
        distance = np.minimum(distance, np.clip(to_pick, 0.0, None))
    return np.stack([_dense_row(matrix, row) for row in chosen])


def _dense_row(matrix: _Csr, row: int) -> np.ndarray:
    vector = np.zeros(matrix.columns, dtype=np.float64)
    lo, hi = matrix.indptr[row], matrix.indptr[row + 1]
    vector[matrix.indices[lo:hi]] = matrix.data[lo:hi]
    return vector


def _compact(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..m-1 in order of label value, dropping empty clusters."""
    _, compact = np.unique(labels, return_inverse=True)
    return compact.astype(np.int64)


def _merge(matrix: _Csr, weights: np.ndarray, labels: np.ndarray, limit: int) -> np.ndarray:
    """Average-linkage agglomeration of the k-means clusters: repeatedly join the two clusters with
    the most similar members on average (the dot product of their mean vectors) while that is above
    `MERGE_SIMILARITY`, and in any case until at most `limit` clusters remain."""
    k = int(labels.max()) + 1
    sums = _centroid_sums(matrix, weights, labels, k)
    mass = np.bincount(labels, weights=weights, minlength=k)
    group = list(range(k))
    alive = set(range(k))
    while len(alive) > 1:
        order = sorted(alive)
        means = sums[order] / mass[order][:, None]
        similarity = means @ means.T
        np.fill_diagonal(similarity, -1.0)
        a, b = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[a, b] <= MERGE_SIMILARITY and len(alive) <= limit:
            break
        keep, gone = order[a], order[b]
        sums[keep] += sums[gone]
        mass[keep] += mass[gone]
        alive.discard(gone)
        group = [keep if g == gone else g for g in group]
    return _compact(np.asarray(group, dtype=np.int64)[labels])


def _top_terms(centroid: np.ndarray, terms: Sequence[str]) -> list[str]:
    order = sorted(np.flatnonzero(centroid > 0), key=lambda column: (-centroid[column], terms[column]))
    return [terms[column] for column in order if terms[column] != NUM][:TOP_TERMS]


def _examples(
    indices: Sequence[int], closeness: Sequence[float], members: Sequence[tuple[str, str]], limit: int
) -> list[str]:
    picked: list[str] = []
    for i in sorted(indices, key=lambda i: (-closeness[i], i)):
        if len(picked) >= limit:
            break
        sample = _clip(members[i][1])
        if sample not in picked:
            picked.append(sample)
    return picked


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXAMPLE_CHARS else flat[: EXAMPLE_CHARS - 1] + "…"
