"""Quality filters of synthesized problems (#14). Each is a small step with a `stage` name and a
`check(problem) -> (reason, details) | None`; a rejected problem is stored with both, never
dropped. Order in a synthesis run: well_formed → length → decontam (cheap, before the label
step pays for n samples) → label → dedup (in the driver, against the whole problem store)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

from factory.minhash import DedupIndex
from schemas import Problem

Rejected = tuple[str, str]  # (reason, details)

# An imperative that makes a statement a question even without a question mark.
_ASKS = re.compile(r"\b(find|compute|calculate|determine|evaluate|simplify|solve|show|prove|what|how|which|"
                   r"write|give|express|list)\b", re.IGNORECASE)
_QUESTION = re.compile(r"\?(?=\s|$)")


class Filter(Protocol):
    stage: str

    def check(self, problem: Problem) -> Rejected | None: ...


@dataclass
class WellFormed:
    """One question in an answerable form: it asks something (a question mark or an imperative
    such as "find"), and at most `max_questions` question marks (more is several problems)."""

    max_questions: int = 1
    stage: str = "well_formed"

    def check(self, problem: Problem) -> Rejected | None:
        text = problem.prompt.strip()
        if not text:
            return "no_problem", "the writer's output held no problem text"
        questions = len(_QUESTION.findall(text))
        if questions > self.max_questions:
            return "multiple_questions", f"{questions} question marks (at most {self.max_questions})"
        if not questions and not _ASKS.search(text):
            return "no_question", "no question mark and no imperative (find, compute, what...)"
        return None


@dataclass
class Length:
    min_chars: int = 20
    max_chars: int = 2000
    stage: str = "length"

    def check(self, problem: Problem) -> Rejected | None:
        size = len(problem.prompt)
        if size < self.min_chars:
            return "too_short", f"{size} chars < {self.min_chars}"
        if size > self.max_chars:
            return "too_long", f"{size} chars > {self.max_chars}"
        return None


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The same n-grams as STaR's decontamination (pipelines/star.py)."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


@dataclass
class Decontam:
    """Rejects a problem whose word n-grams overlap the eval sets' by more than `threshold` of its
    own n-grams (prompts shorter than n count as one n-gram), or that is an eval problem."""

    evals: list[Problem]
    n: int = 8
    threshold: float = 0.5
    stage: str = "decontam"
    _grams: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for p in self.evals:
            for gram in ngrams(p.prompt, self.n):
                self._grams.setdefault(gram, p.problem_id)

    def check(self, problem: Problem) -> Rejected | None:
        grams = ngrams(problem.prompt, self.n)
        hits = [self._grams[g] for g in grams if g in self._grams]
        overlap = len(hits) / len(grams) if grams else 0.0
        if hits and overlap > self.threshold:
            return "contaminated", f"{overlap:.2f} of its {self.n}-grams are in eval problem {max(set(hits), key=hits.count)}"
        return None


@dataclass
class Dedup:
    """Exact and MinHash near duplicates against everything indexed so far: the whole problem
    store at start, then each problem this step keeps. Stateful, so it runs in one place (the
    driver, in commit order)."""

    index: DedupIndex
    stage: str = "dedup"

    def check(self, problem: Problem) -> Rejected | None:
        hit = self.index.find(problem.prompt)
        if hit is None:
            return None
        if hit.exact:
            return "exact_duplicate", f"same normalised text as {hit.key}"
        return "near_duplicate", f"MinHash Jaccard {hit.similarity:.2f} with {hit.key}"

    def keep(self, problem: Problem) -> None:
        self.index.add(problem.problem_id, problem.prompt)


def first_rejection(filters: Iterable[Filter], problem: Problem) -> tuple[str, str, str] | None:
    """(stage, reason, details) of the first filter that rejects `problem`."""
    for f in filters:
        rejected = f.check(problem)
        if rejected is not None:
            return (f.stage, *rejected)
    return None


def split(filters: list[Filter], problems: Iterable[Problem]) -> Iterator[tuple[Problem, tuple[str, str, str] | None]]:
    """The step: each problem with its rejection (None: it passed every filter)."""
    for problem in problems:
        yield problem, first_rejection(filters, problem)
