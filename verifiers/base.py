"""The verifier interface: a pure `verify(problem, text) -> Outcome` that never raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from factory.registry import Registry
from schemas import Problem

# Every reason a verifier may return. Documented in the README; counted in `factory stats`.
REASONS = {
    "correct": "the candidate's final answer matches the reference",
    "wrong_answer": "a final answer was found and it does not match",
    "no_answer": "no final answer could be extracted (no box, unclosed box, empty output)",
    "hedged": "several different final answers were offered as alternatives",
    "bad_output": "output is binary, over the size cap, or otherwise not gradable text",
    "timeout": "checking exceeded the per-call time bound",
    "bad_input": "the verification request itself is malformed (e.g. no reference)",
    "runtime_error": "the program raised an exception or exited with a non-zero status",
    "syntax_error": "the program does not compile",
    "memory": "the program exceeded its memory limit",
    "output_limit": "the program exceeded the output or file-size limit",
    "sandbox_violation": "the program made a forbidden system call (fork, exec, inet socket, ptrace...)",
    "crash": "the program was killed by a signal (segfault, abort)",
    "lean_error": "Lean rejected the proof; details hold its message and position",
    "uses_sorry": "the proof uses sorry or admit",
    "forbidden_axiom": "the proof uses native_decide, a new axiom, implemented_by/extern, or an option or meta-program that weakens checking",
    "statement_mismatch": "the candidate restates a different theorem (other name, weaker or changed statement)",
    "error": "the verifier failed internally; details holds the exception",
}


@dataclass(slots=True)
class Outcome:
    passed: bool
    reason: str
    score: float = 0.0
    details: str = ""
    extracted: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"undocumented verdict reason {self.reason!r}")
        if self.passed and not self.score:
            self.score = 1.0


class Verifier(Protocol):
    name: str
    version: str

    def verify(self, problem: Problem, text: str) -> Outcome: ...


VERIFIERS: Registry[Callable[..., Verifier]] = Registry("verifier")
