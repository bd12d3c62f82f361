"""Lean 4 proofs: a proof passes only if Lean accepts the *reference* statement with it, with
no errors, no sorry, and no unsound construct. Backends (verifiers/lean/backends.py):
`embedded` (wasm Lean, core library), `native` (a `lean` on PATH, file mode) and `repl` (a pool
of leanprover-community REPLs that reuse the compiled header and run `#print axioms`)."""

from __future__ import annotations

import json
from typing import Any

from schemas import Problem
from verifiers.base import VERIFIERS, Outcome
from verifiers.lean.backends import LEAN_BACKENDS
from verifiers.lean.checks import Prepared, axiom_violation, parse_statement, prepare
from verifiers.lean.embedded import Block, BlockResult, EmbeddedLean, FileLean, NativeLean
from verifiers.lean.repl import ReplLean

__all__ = ["LEAN_BACKENDS", "EmbeddedLean", "FileLean", "LeanVerifier", "NativeLean", "ReplLean"]

VERSION = "0.1"


def _header(problem: Problem) -> str:
    try:
        return str(json.loads(problem.metadata or "{}").get("header", ""))
    except json.JSONDecodeError:
        return ""


class LeanVerifier:
    name = "lean"
    version = VERSION

    def __init__(self, timeout_s: float = 20.0, backend: Any = None) -> None:
        self.timeout_s = timeout_s
        self._backend = backend

    @property
    def backend(self) -> Any:
        """Built on first use from FACTORY_LEAN_BACKEND (embedded, native or repl; see backends.py)."""
        if self._backend is None:
            import os

            self._backend = LEAN_BACKENDS.get(os.environ.get("FACTORY_LEAN_BACKEND", "embedded"))(self.timeout_s)
        return self._backend

    def verify(self, problem: Problem, text: str) -> Outcome:
        return self.verify_batch([(problem, text)])[0]

    def verify_batch(self, items: list[tuple[Problem, str]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        by_header: dict[str, list[Block]] = {}
        for i, (problem, text) in enumerate(items):
            try:
                statement = parse_statement(problem.reference)
            except ValueError as exc:
                outcomes[i] = Outcome(False, "bad_input", details=f"statement: {exc}")
                continue
            if not isinstance(text, str) or "\x00" in text:
                outcomes[i] = Outcome(False, "bad_output", details="binary or non-text candidate")
                continue
            prepared = prepare(statement, text)
            if not isinstance(prepared, Prepared):
                outcomes[i] = Outcome(False, prepared[0], details=prepared[1])
                continue
            source = (prepared.helpers + "\n" if prepared.helpers else "") + statement.render(prepared.proof)
            by_header.setdefault(_header(problem), []).append(
                Block(i, source, statement_prop=statement.as_prop(), name=statement.name))
        # Building the backend (a missing toolchain, a bad option) raises here, with its install
        # hint, rather than marking a whole run `error`; a backend failing mid-run is a verdict.
        backend = self.backend if by_header else None
        for header, blocks in by_header.items():
            try:
                results = backend.run(header, blocks)
            except Exception as exc:  # a broken toolchain is a verdict, never a crashed worker
                for b in blocks:
                    outcomes[b.index] = Outcome(False, "error", details=f"lean backend: {exc}")
                continue
            for b in blocks:
                outcomes[b.index] = self._judge(b, results.get(b.index))
        return [o for o in outcomes if o is not None]

    @staticmethod
    def _judge(block: Block, result: BlockResult | None) -> Outcome:
        if result is not None and result.failure:  # the backend's own verdict: crash, memory, error
            return Outcome(False, result.failure, details=result.detail)
        if result is None or not result.finished:
            return Outcome(False, "timeout", details="Lean did not finish this proof in time")
        for m in result.errors:
            text = m.get("data", "")
            if "heartbeats" in text or "deterministic timeout" in text:
                return Outcome(False, "timeout", details=text[:500])
        if block.check_line and any(m["pos"]["line"] == block.check_line for m in result.errors) and not [
                m for m in result.errors if m["pos"]["line"] != block.check_line]:
            return Outcome(False, "statement_mismatch",
                           details="the proved theorem differs from the reference statement once the candidate's "
                                   "declarations are in scope (shadowing, instances or notation)")
        if result.errors:
            m = result.errors[0]
            line = m["pos"]["line"] - block.first_line + 1
            return Outcome(False, "lean_error", details=f"line {line}:{m['pos']['column']}: {m.get('data', '')[:800]}")
        if any(m.get("kind") == "hasSorry" or "sorry" in m.get("data", "") for m in result.warnings):
            return Outcome(False, "uses_sorry", details="Lean reports the declaration uses sorry")
        violation = axiom_violation(result.axioms) if result.axioms is not None else None
        if violation:
            return Outcome(False, violation[0], details=violation[1])
        return Outcome(True, "correct", details="Lean accepted the proof")

    def close(self) -> None:
        """Stops the backend's long-lived processes (the REPL pool); file-mode backends hold none."""
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()


@VERIFIERS.register("lean")
def make_lean_verifier(timeout_s: float = 20.0) -> LeanVerifier:
    return LeanVerifier(timeout_s=timeout_s)
