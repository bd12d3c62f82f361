"""Records of problem synthesis (#14): where a written problem came from, how it got its label,
and why it was rejected.

A synthesized problem is an ordinary `Problem` (so `factory run` and `factory star` read it
unchanged); its lineage lives in documented keys of `Problem.metadata`, a JSON column, so old
readers and shards stay compatible and DuckDB answers lineage questions with `json_extract`:

    metadata.provenance  `Provenance`: parents, mutation, model, prompt version...
    metadata.label       `Label`: how the reference was obtained (majority@n) and its confidence;
                         `CodeLabel` for code (codet@n: dual agreement of solutions and tests)
    metadata.difficulty  reserved (not written: committed shards are immutable; `factory difficulty`
                         writes pass rate, band and tag to difficulty.parquet, keyed by problem_id)

Rejected (and unlabelled) problems are kept, with their reason, in their own table
`rejections` (datatrove's exclusion writer), never silently dropped.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from schemas.records import Problem, doc

PROVENANCE_KEY = "provenance"
LABEL_KEY = "label"
DIFFICULTY_KEY = "difficulty"


@dataclass(slots=True)
class Provenance:
    method: str = doc("How the problem was written: seed (a new problem inspired by one seed), "
                      "grid (topic x persona x difficulty) or evol (a mutation of parents).")
    spec_id: str = doc("Stable id of the writing request: the same config and seed give the same ids.")
    model: str = doc("Model that wrote the problem.")
    prompt_name: str = doc("Name of the config template used: seed, grid, or the mutation's name.")
    prompt_version: str = doc("synthesis.prompt_version of the config: bump it when templates change.")
    run_id: str = doc("Synthesis run that wrote it.")
    parents: list[str] = doc("problem_ids of the problems it was written from (empty for grid).",
                             default_factory=list)
    mutation: str | None = doc("Evol mutation: harder, add_constraint, change_numbers, rephrase, combine...",
                               default=None)
    grid: dict[str, str] | None = doc("The grid cell {topic, persona, difficulty} for grid problems.", default=None)
    sample_idx: int = doc("Index among the problems written for this request.", default=0)


@dataclass(slots=True)
class Label:
    method: str = doc("majority@n: the largest cluster of n sampled answers under the math verifier's "
                      "equivalence (an unlabelled problem's rejection carries the attempt too).")
    confidence: float = doc("Share of the n samples in the majority cluster (answered or not).")
    n: int = doc("Samples drawn.")
    answered: int = doc("Samples with an extractable final answer.")
    clusters: list[list[Any]] = doc("[representative answer, size] per cluster, largest first.",
                                    default_factory=list)


@dataclass(slots=True)
class CodeLabel:
    """The label of a code problem (`metadata.label`): CodeT-style dual agreement between n sampled
    solutions and the asserts a test writer produced. Which tests survived and why is stored here:
    `passed` is the whole solution x test matrix the decision was made from."""

    method: str = doc("codet@n: the best consensus set (solutions passing exactly the same tests), "
                      "score = |solutions| x |tests|.")
    confidence: float = doc("Share of the n solutions in the chosen consensus (no code counts against it).")
    n: int = doc("Solutions sampled.")
    answered: int = doc("Solutions with an extractable program.")
    score: int = doc("|solutions| x |tests| of the chosen consensus (of the best one when unlabelled).")
    tests: list[str] = doc("Every distinct assert the test writer produced, in order (test index = position).",
                           default_factory=list)
    kept_tests: list[int] = doc("Indices of the tests kept as the problem's tests (the consensus's tests).",
                                default_factory=list)
    solutions: list[int] = doc("sample_idx of the solutions in the consensus.", default_factory=list)
    passed: list[list[int] | None] = doc("Per sample_idx, the test indices that solution passed "
                                         "(null: no program).", default_factory=list)
    dropped: list[list[Any]] = doc("[test index, why] per test not kept: passed_by_none, or "
                                   "outside_consensus (only solutions outside the consensus pass it).",
                                   default_factory=list)
    consensus: list[list[Any]] = doc("[solutions, tests, score] of the best consensus sets, best first.",
                                     default_factory=list)


@dataclass(slots=True)
class Rejection:
    """A problem a synthesis filter rejected (or left unlabelled), with the stage and reason."""

    problem_id: str = doc("Content hash of the problem as it was when rejected.")
    run_id: str = doc("Synthesis run.")
    domain: str = doc("Domain of the problem.")
    prompt: str = doc("The problem text (or the raw writer output when it did not parse).")
    reference: str = doc("Its label, empty when it had none yet.")
    stage: str = doc("Filter that rejected it: well_formed, length, decontam, label, dedup.")
    reason: str = doc("Enum-like reason: no_problem, multiple_questions, too_short, too_long, "
                      "contaminated, unlabelled, no_tests, no_label_method, exact_duplicate, near_duplicate.")
    details: str = doc("What was measured: the share, the overlap, the duplicate's problem_id.")
    metadata: str = doc("The problem's metadata JSON (provenance, label).")
    created_at_ms: int = doc("Unix time in milliseconds.")


REJECTION_REASONS = ("no_problem", "multiple_questions", "no_question", "too_short", "too_long", "contaminated",
                     "unlabelled", "no_tests", "no_label_method", "exact_duplicate", "near_duplicate")


def to_json(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


def with_meta(problem: Problem, **sections: Any) -> Problem:
    """A copy of `problem` whose metadata gains the given sections (dataclasses or dicts). The
    problem_id is recomputed from content, so metadata never changes identity."""
    meta = problem.meta()
    for key, value in sections.items():
        meta[key] = to_json(value) if dataclasses.is_dataclass(value) else value
    return Problem(domain=problem.domain, prompt=problem.prompt, reference=problem.reference, source=problem.source,
                   tests=problem.tests, metadata=json.dumps(meta, sort_keys=True))


__all__ = ["CodeLabel", "DIFFICULTY_KEY", "LABEL_KEY", "PROVENANCE_KEY", "REJECTION_REASONS", "Label", "Provenance", "Rejection",
           "to_json", "with_meta"]


def register_arrow() -> None:
    """Add `rejections` to the Arrow schema registry (`to_table`, `RunStore.read`). Done on first
    use by the synthesis pipeline, since `schemas.arrow` imports pyarrow and these records do not."""
    from schemas import arrow

    if "rejections" not in arrow.RECORDS:
        arrow.RECORDS["rejections"] = Rejection
        arrow.SCHEMAS["rejections"] = arrow.schema_for(Rejection)
