"""How far a scorer's verdicts agree with people's on the same traces, and whether the scorer may
therefore gate. Standard library only: this package is copied into every generated suite, whose
run_eval.py reads the decisions that `calibrate_judges` wrote with the same code."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

_PASS_WORDS = frozenset({"yes", "true", "pass", "passed", "1", "good", "correct"})
_FAIL_WORDS = frozenset({"no", "false", "fail", "failed", "0", "bad", "incorrect"})


def verdict(value: Any) -> bool | None:
    """A pass (True) or a fail (False) from how judges, code scorers and people write one; None for
    anything else (a score of 3 out of 5, a comment), which is not a pass/fail label."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _PASS_WORDS:
            return True
        if word in _FAIL_WORDS:
            return False
    return None


@dataclass(frozen=True)
class Agreement:
    """The confusion matrix of a scorer against people, on the traces both judged."""

    both_pass: int
    both_fail: int
    scorer_pass_human_fail: int
    scorer_fail_human_pass: int

    @classmethod
    def of(cls, pairs: list[tuple[bool, bool]]) -> Agreement:
        """From (scorer, human) verdict pairs."""
        return cls(
            both_pass=sum(s and h for s, h in pairs),
            both_fail=sum(not s and not h for s, h in pairs),
            scorer_pass_human_fail=sum(s and not h for s, h in pairs),
            scorer_fail_human_pass=sum(h and not s for s, h in pairs),
        )

    @property
    def n(self) -> int:
        return self.both_pass + self.both_fail + self.scorer_pass_human_fail + self.scorer_fail_human_pass

    @property
    def accuracy(self) -> float | None:
        return (self.both_pass + self.both_fail) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa: agreement beyond what the two raters' pass rates give by chance. None when
        the people gave only one verdict, where agreement cannot show that the scorer tells a pass
        from a fail (kappa is then undefined or meaningless)."""
        n = self.n
        human_pass = self.both_pass + self.scorer_fail_human_pass
        if n == 0 or human_pass in (0, n):
            return None
        scorer_pass = self.both_pass + self.scorer_pass_human_fail
        chance = (scorer_pass * human_pass + (n - scorer_pass) * (n - human_pass)) / (n * n)
        observed = (self.both_pass + self.both_fail) / n
        return (observed - chance) / (1 - chance)


def fingerprint(spec: dict[str, Any]) -> str:
    """A short digest of a scorer's configuration: a calibration holds only for the scorer it measured."""
    return hashlib.blake2b(json.dumps(spec, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def may_gate(entry: dict[str, Any] | None, spec: dict[str, Any], *, is_judge: bool) -> tuple[bool, str]:
    """Whether a scorer's gate may fail a run, and why, from its entry in the suite's calibration
    (`data/gate_trust.json`). An LLM judge gates only once people showed it agrees with them; a code
    scorer gates unless people showed it does not."""
    if entry is None:
        if is_judge:
            return False, "advisory: not calibrated against human labels (calibrate_judges)"
        return True, "code scorer"
    if entry.get("fingerprint") != fingerprint(spec):
        if is_judge:
            return False, "advisory: the judge changed since it was calibrated (calibrate_judges again)"
        return True, "code scorer, changed since it was calibrated (calibrate_judges again)"
    return bool(entry.get("gates")), str(entry.get("reason", ""))
