"""The records that flow through the factory.

Each record is a slotted dataclass; the Arrow schema in `schemas.arrow` is derived from these
type hints, so the dataclass *is* the contract. Every field carries its documentation in
`metadata["doc"]`, which also lands in the Parquet schema.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

# 2.0: the extracted answer moved from the candidate to the verdict (it is the verifier's reading
# of the text, and changes when the text is re-verified), and verdicts carry a verdict_version.
# 1.x shards are still read: their candidates' extracted_answer is mapped onto version-1 verdicts.
SCHEMA_VERSION = "2.0"
READABLE_MAJORS = ("1", "2")
VERSION_KEY = b"factory.schema_version"  # Parquet key-value metadata of every shard
TABLE_KEY = b"factory.table"
DOMAINS = ("math", "code", "lean")


def doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with its documentation attached."""
    return field(metadata={"doc": text}, **kwargs)


def _sha(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:24]


def problem_id_for(domain: str, prompt: str, reference: str, tests: str | None) -> str:
    """Content hash: the same problem re-ingested from anywhere gets the same id."""
    return "p-" + _sha(domain, prompt, reference, tests or "")


def candidate_id_for(run_id: str, iteration: int, problem_id: str, sample_idx: int) -> str:
    """Deterministic from (run, iteration, problem, sample): a rerun rewrites the same ids."""
    return "c-" + _sha(run_id, str(iteration), problem_id, str(sample_idx))


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class Problem:
    domain: str = doc("Verification domain: one of math, code, lean.")
    prompt: str = doc("The problem statement shown to the model (without any system prompt).")
    reference: str = doc("Reference answer (math), reference solution (code) or statement (lean).")
    source: str = doc("Name of the problem source that produced it, e.g. procedural_math.")
    tests: str | None = doc("Code tests as JSON (code domain only); null otherwise.", default=None)
    metadata: str = doc("Free-form JSON object: kind, difficulty, seed, original ids...", default="{}")
    problem_id: str = doc("Content hash of (domain, prompt, reference, tests).", default="")

    def __post_init__(self) -> None:
        if not self.problem_id:
            self.problem_id = problem_id_for(self.domain, self.prompt, self.reference, self.tests)

    def meta(self) -> dict[str, Any]:
        return json.loads(self.metadata)


@dataclass(slots=True)
class Candidate:
    candidate_id: str = doc("Hash of (run_id, iteration, problem_id, sample_idx).")
    problem_id: str = doc("The problem this candidate answers.")
    run_id: str = doc("Run that produced it.")
    iteration: int = doc("STaR iteration (0 for a plain sampling run).")
    sample_idx: int = doc("Index of this sample among the n drawn for the problem.")
    domain: str = doc("Domain of the problem, repeated for partition pruning.")
    model: str = doc("Model identifier (path or name) that generated the text.")
    backend: str = doc("Generation backend name: vllm, openai, scripted.")
    prompt_text: str = doc("The exact prompt sent (chat template applied when known).")
    text: str = doc("The full completion: the chain of thought and the final answer.")
    finish_reason: str = doc("Why generation stopped: stop, length, error.")
    prompt_tokens: int = doc("Tokens in the prompt.")
    completion_tokens: int = doc("Tokens generated.")
    latency_ms: float = doc("Wall time of the batch this sample came from, divided per sample.")
    temperature: float = doc("Sampling temperature.")
    top_p: float = doc("Nucleus sampling threshold.")
    max_tokens: int = doc("Generation length cap.")
    seed: int = doc("Sampling seed of the request (run seed + problem offset).")
    hinted: bool = doc("True when the prompt contained the reference answer (rationalization).")
    created_at_ms: int = doc("Unix time in milliseconds when the candidate was produced.")


@dataclass(slots=True)
class Verdict:
    candidate_id: str = doc("The candidate judged.")
    problem_id: str = doc("Its problem, repeated so verdicts join without candidates.")
    run_id: str = doc("Run that produced the verdict.")
    iteration: int = doc("STaR iteration.")
    domain: str = doc("Domain of the problem.")
    verifier: str = doc("Verifier name from the registry, e.g. math.")
    verifier_version: str = doc("Verifier version: changes when grading rules change.")
    passed: bool = doc("Whether the candidate is accepted.")
    score: float = doc("Score in [0, 1]; 1.0 or 0.0 for binary verifiers.")
    reason: str = doc("Enum-like reason: correct, wrong_answer, no_answer, bad_output, timeout, ...")
    details: str = doc("Human-readable detail: what was compared, the error message.")
    duration_ms: float = doc("Time spent verifying.")
    created_at_ms: int = doc("Unix time in milliseconds when the verdict was made.")
    extracted_answer: str | None = doc("The final answer this verifier read from the candidate's text, null if "
                                       "none (math; null for code and Lean).", default=None)
    verdict_version: int = doc("1 for the grading done when the candidate was sampled; each `factory reverify` "
                               "pass writes the next version. Readers use the newest unless asked.", default=1)


class SchemaError(ValueError):
    """A record or file does not match the contract."""


def check_file_metadata(meta: dict[bytes, bytes], path: str, table: str) -> None:
    """Reject a Parquet file that is foreign or of an incompatible schema version, from its
    key-value metadata (pyarrow-free: DuckDB readers check files with it)."""
    version = meta.get(VERSION_KEY)
    if version is None:
        raise SchemaError(f"{path}: not a factory shard (no {VERSION_KEY.decode()} metadata)")
    major = version.decode().split(".")[0]
    if major not in READABLE_MAJORS:
        raise SchemaError(f"{path}: schema version {version.decode()} is incompatible "
                          f"with this reader ({SCHEMA_VERSION})")
    if meta.get(TABLE_KEY, b"").decode() != table:
        raise SchemaError(f"{path}: holds table {meta.get(TABLE_KEY, b'?').decode()!r}, expected {table!r}")
