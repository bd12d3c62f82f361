"""`factory verify`: re-verify an existing JSONL dataset, one verdict line per input line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, TextIO

from factory.errors import FactoryError
from schemas import DOMAINS, Problem
from verifiers import VERIFIERS, Outcome


def _bad(record_id: Any, why: str) -> dict[str, Any]:
    return {"id": record_id, "passed": False, "score": 0.0, "reason": "bad_input", "details": why}


def _parse(line: str, lineno: int) -> tuple[Any, dict[str, Any] | str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"line {lineno}: invalid JSON ({exc.msg})"
    if not isinstance(record, dict):
        return None, f"line {lineno}: expected a JSON object"
    rid = record.get("id")
    domain = record.get("domain", "math")
    if domain not in DOMAINS:
        return rid, f"line {lineno}: unknown domain {domain!r}"
    for key in ("reference", "candidate"):
        if not isinstance(record.get(key), str):
            return rid, f"line {lineno}: {key!r} must be a string"
    return rid, record


def verify_lines(lines: Iterator[str], timeout_s: float = 5.0,
                 stderr: TextIO | None = None) -> Iterator[dict[str, Any]]:
    stderr = stderr or sys.stderr
    verifiers: dict[str, Any] = {}
    try:
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            rid, parsed = _parse(line, lineno)
            if isinstance(parsed, str):
                print(f"bad_input: {parsed}", file=stderr)
                yield _bad(rid, parsed)
                continue
            domain = parsed.get("domain", "math")
            if domain not in verifiers:
                try:
                    verifiers[domain] = VERIFIERS.get(domain)(timeout_s=timeout_s)
                except FactoryError as exc:
                    print(f"bad_input: line {lineno}: {exc}", file=stderr)
                    yield _bad(rid, f"line {lineno}: no verifier for domain {domain!r} yet")
                    continue
            problem = Problem(domain=domain, prompt=str(parsed.get("prompt", "")),
                              reference=parsed["reference"], source="verify")
            out: Outcome = verifiers[domain].verify(problem, parsed["candidate"])
            yield {"id": rid, "passed": out.passed, "score": out.score, "reason": out.reason,
                   "extracted": out.extracted, "details": out.details}
    finally:
        for v in verifiers.values():
            getattr(v, "close", lambda: None)()


def verify_file(input_path: str | Path, output_path: str | Path, timeout_s: float = 5.0) -> dict[str, int]:
    src = Path(input_path)
    if not src.is_file():
        raise FactoryError(f"input file not found: {src}")
    counts: dict[str, int] = {}
    dest = Path(output_path)
    tmp = dest.with_name(dest.name + ".part")
    with src.open(encoding="utf-8", errors="replace") as fin, tmp.open("w", encoding="utf-8") as fout:
        for result in verify_lines(fin, timeout_s):
            counts[result["reason"]] = counts.get(result["reason"], 0) + 1
            fout.write(json.dumps(result, ensure_ascii=False) + "\n")
    tmp.replace(dest)
    return counts
