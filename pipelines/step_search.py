"""Which step prefixes to roll out, and the labels that follow: Math-Shepherd's "every step" and
OmegaPRM's binary search for the first bad step.

A prefix's Monte-Carlo value is the share of rollouts from it that reach a verified answer.
Hard labels assume monotonicity: once a prefix can no longer reach a verified answer (no
rollout does), neither can any longer one, and a prefix some rollout completes correctly is good
along with every shorter one. So for a failed candidate (its full text is a known-bad "prefix")
the first bad step is found with about log2(steps) prefixes rolled out instead of steps - 1; a
passed candidate needs none for hard labels. The state machine is pure: `probes()` says what to
measure next, `observe()` records it, `labels()` reads out the result."""

from __future__ import annotations

from dataclasses import dataclass, field

STRATEGIES = ("all", "binary")


@dataclass
class Measured:
    rollouts: int
    passed: int
    tokens: int


@dataclass
class StepSearch:
    num_steps: int
    passed: bool  # the candidate's own verdict: the outcome of its last "prefix", the full text
    strategy: str = "binary"
    measured: dict[int, Measured] = field(default_factory=dict)
    lo: int = 0  # binary: the first bad step lies in [lo, hi]
    hi: int = -1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown step-label strategy {self.strategy!r} (known: {', '.join(STRATEGIES)})")
        if self.num_steps < 1:
            raise ValueError("a candidate has at least one step")
        self.hi = self.num_steps - 1

    def probes(self) -> list[int]:
        """Step indices whose prefixes should be rolled out next; empty once labels are final."""
        last = self.num_steps - 1
        if self.strategy == "all":
            return [j for j in range(last) if j not in self.measured]
        if self.passed or self.lo >= self.hi:
            return []
        return [(self.lo + self.hi) // 2]

    def observe(self, step: int, rollouts: int, passed: int, tokens: int) -> None:
        self.measured[step] = Measured(rollouts, passed, tokens)
        if self.strategy == "binary" and not self.passed:
            if passed:
                self.lo = step + 1  # a verified rollout: the error comes later
            else:
                self.hi = step  # no rollout recovered: the first error is here or earlier

    def first_bad(self) -> int:
        """The first bad step by the hard labels, -1 when every step is good."""
        labels = [good for good, _ in self.labels()]
        return labels.index(False) if False in labels else -1

    def labels(self) -> list[tuple[bool, str]]:
        """(good, source) per step; see schemas.steps.LABEL_SOURCES for the sources."""
        last = self.num_steps - 1
        if self.strategy == "all":
            return [(self.measured[j].passed > 0, "rollouts") if j in self.measured else (self.passed, "final_verdict")
                    for j in range(self.num_steps)]
        first_bad = self.num_steps if self.passed else self.lo
        out = []
        for j in range(self.num_steps):
            good = j < first_bad
            if j in self.measured:
                out.append((good, "rollouts"))
            elif j == last:
                out.append((good, "final_verdict"))
            else:
                out.append((good, "before_good" if good else "after_bad"))
        return out

    def rollouts_used(self) -> int:
        return sum(m.rollouts for m in self.measured.values())
