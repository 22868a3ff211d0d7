"""Which language a text is in, and how much two texts share, without a model: the common words of
eight languages, and the overlap of two texts' content terms.

Standard library only: this package is copied into every generated suite.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_COMMON_WORDS = {
    "en": "the and is are was were be been being you your my i it its to of in for on with this that have has had "
    "will would shall should could may might do does did what where when how not can we our us they them there here "
    "an a at by from as if or so but just also then",
    "es": "el la los las de que y en un una es por para con mi su tu no se lo como pero qué dónde cuándo está",
    "de": "der die das und ist nicht ich sie es ein eine zu mit mein meine ihr ihre wo wie was wann auf für den",
    "fr": "le la les de et est un une des du pour dans avec mon ma mes votre vous je il ne pas où quand comment",
    "it": "il lo la gli le di che è un una per con non mio mia tuo suo sono dove quando come perché del della",
    "pt": "o a os as de que e é um uma para com não meu minha seu sua onde quando como por do da está você",
    "nl": "de het een en is van ik je jij niet met voor op wat waar wanneer hoe mijn uw zijn dat er te",
    "sv": "och är det att en ett jag du inte med för på som vad var när hur min din har till av om",
}
_WORDS = {language: frozenset(words.split()) for language, words in _COMMON_WORDS.items()}
_MIN_HITS = 2
_STOP = frozenset().union(*_WORDS.values())


def language_of(text: str | None) -> str | None:
    """The language (ISO 639-1) whose common words `text` uses most, when it is clear: at least two
    of them, and more than any other language's. None for short or mixed text."""
    words = [word.casefold() for word in _WORD.findall(text or "")]
    hits = sorted(
        ((sum(word in common for word in words), language) for language, common in _WORDS.items()), reverse=True
    )
    (best, language), (second, _) = hits[0], hits[1]
    return language if best >= _MIN_HITS and best > second else None


def content_terms(text: str | None) -> set[str]:
    """The words of `text` that carry its content: not common words, at least three letters."""
    return {word.casefold() for word in _WORD.findall(text or "") if len(word) >= 3} - _STOP


def overlap(text: str | None, reference: str | None) -> float:
    """The share of `reference`'s content terms that `text` also uses (1.0 when it has none)."""
    wanted = content_terms(reference)
    return len(wanted & content_terms(text)) / len(wanted) if wanted else 1.0
