"""Lean problems: the project's own set of core-Lean theorems (each with a reference proof that
the verifier accepts: a contract test checks it), and user-supplied statements from JSONL
(e.g. miniF2F-style files with a header of imports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from factory.errors import FactoryError
from factory.sources.base import SOURCES, Source
from factory.sources.files import _jsonl_rows, _resolve
from schemas import Problem

CORE_FILE = Path(__file__).with_name("data") / "lean_core.jsonl"
PROMPT = ("Prove the following Lean 4 theorem. Use only the core library (no Mathlib). "
          "Answer with the complete theorem and its proof in a ```lean block.\n\n{statement} := by\n  sorry")


def _problem(statement: str, header: str, source: str, extra: dict) -> Problem:
    meta = {"header": header, **extra}
    return Problem(domain="lean", prompt=PROMPT.format(statement=statement), reference=statement, source=source,
                   metadata=json.dumps(meta, sort_keys=True, ensure_ascii=False))


@dataclass
class LeanCoreOptions:
    count: int | None = None


@SOURCES.register("lean_core")
class LeanCore(Source):
    """Core-Lean theorems (Nat/Int/List/logic) written for the project, with reference proofs."""

    Options = LeanCoreOptions
    description = "core Lean 4 theorems with reference proofs (omega, simp, decide, induction)"

    def problems(self) -> Iterator[Problem]:
        rows = [json.loads(line) for line in CORE_FILE.read_text().splitlines() if line.strip()]
        for row in rows[: self.options.count]:
            yield _problem(row["statement"], "", "lean_core", {"name": row["name"], "reference_proof": row["proof"]})


@dataclass
class LeanFileOptions:
    path: str
    statement_field: str = "statement"
    header_field: str = "header"
    limit: int | None = None


@SOURCES.register("lean_jsonl")
class LeanJsonl(Source):
    """User-supplied Lean statements, one JSON object per line with an optional import header."""

    Options = LeanFileOptions
    description = "Lean statements from JSONL (statement + optional header of imports)"

    def problems(self) -> Iterator[Problem]:
        opts = self.options
        rows = _jsonl_rows(_resolve(opts.path, self.base_dir))
        for count, (where, row) in enumerate(rows):
            if opts.limit is not None and count >= opts.limit:
                return
            statement = row.get(opts.statement_field) if isinstance(row, dict) else None
            if not isinstance(statement, str) or not statement.strip():
                raise FactoryError(f"{where}: no {opts.statement_field!r} string")
            header = row.get(opts.header_field) or ""
            yield _problem(statement.strip(), str(header), "lean_jsonl", {"origin": where})
