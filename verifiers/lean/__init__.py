"""Lean 4 proofs: a proof passes only if Lean accepts the *reference* statement with it, with
no errors, no sorry, and no unsound construct. Backends: `embedded` (wasm Lean, core library)
and `native` (a `lean` on PATH)."""

from __future__ import annotations

import json
from typing import Any

from schemas import Problem
from verifiers.base import VERIFIERS, Outcome
from verifiers.lean.checks import Prepared, parse_statement, prepare
from verifiers.lean.embedded import Block, BlockResult, EmbeddedLean, FileLean, NativeLean

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
    def backend(self) -> FileLean:
        """FACTORY_LEAN_BACKEND=native uses a `lean` on PATH (FACTORY_LEAN_PROJECT: a Lake project)."""
        if self._backend is None:
            import os

            if os.environ.get("FACTORY_LEAN_BACKEND", "embedded") == "native":
                self._backend = NativeLean(project=os.environ.get("FACTORY_LEAN_PROJECT"), per_proof_s=self.timeout_s)
            else:
                self._backend = EmbeddedLean(per_proof_s=self.timeout_s)
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
        for header, blocks in by_header.items():
            try:
                results = self.backend.run(header, blocks)
            except Exception as exc:  # a broken toolchain is a verdict, never a crashed worker
                for b in blocks:
                    outcomes[b.index] = Outcome(False, "error", details=f"lean backend: {exc}")
                continue
            for b in blocks:
                outcomes[b.index] = self._judge(b, results.get(b.index))
        return [o for o in outcomes if o is not None]

    @staticmethod
    def _judge(block: Block, result: BlockResult | None) -> Outcome:
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
        return Outcome(True, "correct", details="Lean accepted the proof")

    def close(self) -> None:
        pass


@VERIFIERS.register("lean")
def make_lean_verifier(timeout_s: float = 20.0) -> LeanVerifier:
    return LeanVerifier(timeout_s=timeout_s)
