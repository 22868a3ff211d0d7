"""The architecture review: the map of an agent and how it spends its calls, over all its traces
(the per-trace judgements are `checks/call_graph.py`): the sub-agents, tools and retrievers the
traces call, the routes the root takes, which of them serve each kind of request, calls that could
run in parallel, results that go unused, tools offered but never called, and the findings
`unnecessary_fanout` and `redundant_retrieval`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mlflow_eval_mcp.analysis.finding_factory import new_finding
from mlflow_eval_mcp.analysis.models import (
    ArchitectureReport,
    ClusterComponents,
    ComponentUse,
    Finding,
    FindingKind,
    InputCluster,
    OfferedTool,
    ParallelizableCalls,
    Route,
    UnusedResults,
)
from mlflow_eval_mcp.analysis.stats import percentile
from mlflow_eval_mcp.checks.call_graph import KIND_OF_TYPE, ComponentKind, TraceCalls, excerpt
from mlflow_eval_mcp.checks.conversation import Conversation

MAX_NAMES = 300
"""Distinct names (and routes) tracked one by one; beyond that they are pooled, so that names generated
per request cannot grow memory without bound."""
OTHER_NAMES = "(other names)"
OTHER_ROUTES = "(other routes)"
MAX_CALLED_NAMES = 10 * MAX_NAMES
"""Distinct names of called tools kept to tell which offered tools were never called."""
LISTED = 15
"""Entries per list in the report: it goes into an LLM client's context."""
EXAMPLES = 5


# ---- The tally -------------------------------------------------------------------------------------


@dataclass
class _Uses:
    calls: int = 0
    traces: int = 0


@dataclass
class _Unused:
    judged: int = 0
    unused: int = 0
    trace_ids: list[str] = field(default_factory=list)


@dataclass
class _Flagged:
    trace_ids: list[str] = field(default_factory=list)
    by_trace: dict[str, str] = field(default_factory=dict)
    by_name: Counter[str] = field(default_factory=Counter)

    def add(self, trace_id: str, evidence: str, names: list[str]) -> None:
        self.trace_ids.append(trace_id)
        self.by_trace[trace_id] = excerpt(evidence)
        self.by_name.update(names)


@dataclass
class ArchitectureTally:
    """The architecture review's share of the analysis' single pass: small facts per trace (names,
    counts, ids, short evidence), never the traces or their texts."""

    traces: int = 0
    uses: dict[tuple[ComponentKind, str], _Uses] = field(default_factory=dict)
    routes: Counter[str] = field(default_factory=Counter)
    route_examples: dict[str, str] = field(default_factory=dict)
    combinations: dict[frozenset[str], int] = field(default_factory=dict)
    """Each distinct set of components called in one trace -> its index, so a trace keeps only an int."""
    combination_of_trace: dict[str, int] = field(default_factory=dict)
    parallel_judged: int = 0
    parallel_untimed: int = 0
    parallel_calls: int = 0
    parallel_runs: Counter[str] = field(default_factory=Counter)
    parallel_saved_ms: list[float] = field(default_factory=list)
    parallel_saved_share: list[float] = field(default_factory=list)
    parallel_trace_ids: list[str] = field(default_factory=list)
    unused: dict[tuple[ComponentKind, str], _Unused] = field(default_factory=dict)
    offered: Counter[str] = field(default_factory=Counter)
    called: set[str] = field(default_factory=set)
    fanout_traces: int = 0
    """Traces in which a supervisor dispatched to two or more sub-agents."""
    fanout: _Flagged = field(default_factory=_Flagged)
    retrieving_traces: int = 0
    """Traces with two or more retrievals."""
    redundant: _Flagged = field(default_factory=_Flagged)

    def add(self, trace_id: str, conversation: Conversation, *, timed: bool) -> None:
        self.traces += 1
        calls = TraceCalls(conversation)
        components = calls.components()
        self._add_map(trace_id, calls, components)
        self._add_tools_offered_and_called(calls)
        if calls.sibling_groups:
            self._add_parallel(trace_id, calls, timed=timed)
        if calls.calls and conversation.model_calls:
            self._add_unused(trace_id, calls)
        if calls.dispatches:
            self._add_fanout(trace_id, calls)
        if len(conversation.retrievals) > 1:
            self._add_redundant(trace_id, calls)

    def _add_map(self, trace_id: str, calls: TraceCalls, components: list[tuple[ComponentKind, str]]) -> None:
        pooled = [(kind, self._name(kind, name)) for kind, name in components]
        for key in pooled:
            self.uses[key].calls += 1
        for key in set(pooled):
            self.uses[key].traces += 1
        route = calls.route()
        if route:
            if route not in self.routes and len(self.routes) >= MAX_NAMES:
                route = OTHER_ROUTES
            self.routes[route] += 1
            self.route_examples.setdefault(route, trace_id)
        combination = frozenset(f"{kind}:{name}" for kind, name in pooled)
        index = self.combinations.setdefault(combination, len(self.combinations))
        self.combination_of_trace[trace_id] = index

    def _name(self, kind: ComponentKind, name: str) -> str:
        key = (kind, name)
        if key not in self.uses:
            if len(self.uses) >= MAX_NAMES:
                key = (kind, OTHER_NAMES)
            self.uses.setdefault(key, _Uses())
        return key[1]

    def _add_tools_offered_and_called(self, calls: TraceCalls) -> None:
        offered = calls.offered_tools()
        for name in offered:
            if name in self.offered or len(self.offered) < MAX_NAMES:
                self.offered[name] += 1
        # A model asks only for tools its request offers: where none were, what it asked for is not read.
        called = calls.called_tools() if offered else calls.traced_tools()
        if len(self.called) < MAX_CALLED_NAMES:
            self.called |= called

    def _add_parallel(self, trace_id: str, calls: TraceCalls, *, timed: bool) -> None:
        if not timed:
            self.parallel_untimed += 1
            return
        self.parallel_judged += 1
        runs = calls.parallel_runs()
        if not runs:
            return
        self.parallel_trace_ids.append(trace_id)
        self.parallel_calls += sum(len(run.names) - 1 for run in runs)
        for run in runs:
            label = " + ".join(dict.fromkeys(run.names))
            if label in self.parallel_runs or len(self.parallel_runs) < MAX_NAMES:
                self.parallel_runs[label] += 1
        saved = sum(run.saved_ms or 0.0 for run in runs)
        self.parallel_saved_ms.append(saved)
        root = calls.root
        if root is not None and root.duration_ms:
            self.parallel_saved_share.append(min(1.0, saved / root.duration_ms))

    def _add_unused(self, trace_id: str, calls: TraceCalls) -> None:
        flagged: set[tuple[ComponentKind, str]] = set()
        for span, reached in calls.result_uses():
            kind = KIND_OF_TYPE[span.span_type]
            key = (kind, self._name(kind, span.name))
            tally = self.unused.get(key)
            if tally is None:
                tally = self.unused[key] = _Unused()
            tally.judged += 1
            if not reached:
                tally.unused += 1
                if key not in flagged:
                    tally.trace_ids.append(trace_id)
                    flagged.add(key)

    def _add_fanout(self, trace_id: str, calls: TraceCalls) -> None:
        self.fanout_traces += 1
        fanouts = calls.fanouts()
        if fanouts:
            evidence = "; ".join(
                f"{fanout.supervisor} called {', '.join(fanout.called)}; only the output of "
                f"{', '.join(fanout.answering)} reaches the answer"
                for fanout in fanouts
            )
            self.fanout.add(trace_id, evidence, [name for fanout in fanouts for name in fanout.unneeded])

    def _add_redundant(self, trace_id: str, calls: TraceCalls) -> None:
        self.retrieving_traces += 1
        if repeated := calls.repeated_retrievals():
            self.redundant.add(trace_id, "; ".join(said for _, said in repeated), [name for name, _ in repeated])

    # -- the end of the pass

    def report(self, input_clusters: list[InputCluster]) -> ArchitectureReport:
        return ArchitectureReport(
            traces=self.traces,
            sub_agents=self._uses_of("sub_agent"),
            routes=[
                Route(route=route, traces=count, example_trace_id=self.route_examples[route])
                for route, count in self.routes.most_common(LISTED)
            ],
            tools=self._uses_of("tool"),
            retrievers=self._uses_of("retriever"),
            by_input_cluster=self._by_input_cluster(input_clusters),
            parallelizable=self._parallelizable(),
            unused_results=self._unused_results(),
            tools_never_used=[
                OfferedTool(name=name, offered_in_traces=count)
                for name, count in self.offered.most_common()
                if name not in self.called
            ][:LISTED],
        )

    def _uses_of(self, kind: ComponentKind) -> list[ComponentUse]:
        uses = [
            ComponentUse(name=name, kind=kind, calls=use.calls, traces=use.traces)
            for (use_kind, name), use in self.uses.items()
            if use_kind == kind and use.calls
        ]
        return sorted(uses, key=lambda use: (-use.traces, -use.calls, use.name))[:LISTED]

    def _by_input_cluster(self, input_clusters: list[InputCluster]) -> list[ClusterComponents]:
        combination_of_index = {index: combination for combination, index in self.combinations.items()}
        found = (self._cluster_components(cluster, combination_of_index) for cluster in input_clusters)
        return [cluster for cluster in found if cluster is not None]

    def _cluster_components(
        self, cluster: InputCluster, combination_of_index: dict[int, frozenset[str]]
    ) -> ClusterComponents | None:
        indices = [
            self.combination_of_trace[trace] for trace in cluster.trace_ids if trace in self.combination_of_trace
        ]
        if not indices:
            return None
        together = Counter(indices)
        components: Counter[str] = Counter()
        for index, count in together.items():
            for label in combination_of_index[index]:
                components[label] += count
        return ClusterComponents(
            cluster_id=cluster.cluster_id,
            name=cluster.name,
            top_terms=cluster.top_terms[:3],
            traces=len(indices),
            components=dict(components.most_common(8)),
            together={
                " + ".join(sorted(combination_of_index[index])) or "(none)": count
                for index, count in together.most_common(3)
            },
        )

    def _parallelizable(self) -> ParallelizableCalls:
        saved = sorted(self.parallel_saved_ms)
        shares = sorted(self.parallel_saved_share)
        return ParallelizableCalls(
            traces_judged=self.parallel_judged,
            traces=len(self.parallel_trace_ids),
            calls=self.parallel_calls,
            by_calls=dict(self.parallel_runs.most_common(10)),
            saved_ms_total=round(sum(saved), 1),
            saved_ms_p50=round(percentile(saved, 50), 1) if saved else None,
            saved_share_p50=round(percentile(shares, 50), 3) if shares else None,
            example_trace_ids=self.parallel_trace_ids[:EXAMPLES],
            traces_untimed=self.parallel_untimed,
        )

    def _unused_results(self) -> list[UnusedResults]:
        found = [
            UnusedResults(
                name=name,
                kind=kind,
                judged=tally.judged,
                unused=tally.unused,
                traces=len(tally.trace_ids),
                example_trace_ids=tally.trace_ids[:EXAMPLES],
            )
            for (kind, name), tally in self.unused.items()
            if tally.unused
        ]
        return sorted(found, key=lambda result: (-result.unused, result.name))[:LISTED]

    def findings(self, traces_analyzed: int) -> list[Finding]:
        found = []
        if self.fanout.trace_ids:
            found.append(
                _finding(
                    "unnecessary_fanout",
                    "A supervisor called several sub-agents where one answered",
                    self.fanout,
                    traces_analyzed,
                    {"fanout_traces": self.fanout_traces},
                )
            )
        if self.redundant.trace_ids:
            found.append(
                _finding(
                    "redundant_retrieval",
                    "The same retrieval repeated within one request",
                    self.redundant,
                    traces_analyzed,
                    {"traces_with_several_retrievals": self.retrieving_traces},
                )
            )
        return found


def _finding(
    kind: FindingKind,
    title: str,
    flagged: _Flagged,
    traces_analyzed: int,
    details: dict[str, str | int | float],
) -> Finding:
    return new_finding(
        traces_analyzed,
        kind,
        kind,
        title,
        "medium",
        flagged.trace_ids,
        list(flagged.by_trace.values())[:EXAMPLES],
        {**details, **{f"by:{name}": count for name, count in flagged.by_name.most_common(10)}},
        trace_evidence=flagged.by_trace,
    )
