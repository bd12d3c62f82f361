"""`factory verify`: re-verify an existing JSONL dataset, one verdict line per input line.

Lines are read in windows; within a window each domain's verifier gets one batch (the code
sandbox runs a batch in parallel), and results are written back in input order."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, TextIO

from factory.atomic import atomic_write
from factory.errors import FactoryError
from schemas import DOMAINS, Problem
from factory.config import VerificationSection
from factory.verification import grade, make_verifier

WINDOW = 256
REQUIRED = {"math": ("reference", "candidate"), "code": ("candidate", "tests"), "lean": ("statement", "candidate")}


def _bad(record_id: Any, why: str) -> dict[str, Any]:
    return {"id": record_id, "passed": False, "score": 0.0, "reason": "bad_input", "details": why}


class NotUtf8(str):
    """A line whose bytes are not UTF-8: a bad_input verdict, never silently replaced text."""


def _parse(line: str, lineno: int) -> tuple[Any, Problem | str, str]:
    """(id, Problem or error text, candidate text)."""
    if isinstance(line, NotUtf8):
        return None, f"line {lineno}: not UTF-8 ({line})", ""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"line {lineno}: invalid JSON ({exc.msg})", ""
    if not isinstance(record, dict):
        return None, f"line {lineno}: expected a JSON object", ""
    rid = record.get("id")
    domain = record.get("domain", "math")
    if domain not in DOMAINS:
        return rid, f"line {lineno}: unknown domain {domain!r}", ""
    for key in REQUIRED[domain]:
        value = record.get(key)
        if key == "tests" and isinstance(value, (list, dict)):
            continue
        if key == "reference" and isinstance(value, (int, float)) and not isinstance(value, bool):
            record[key] = value = str(value)  # datasets often store numeric answers as numbers
        if not isinstance(value, str):
            return rid, f"line {lineno}: {key!r} must be a string", ""
    tests = record.get("tests")
    meta = json.dumps({"header": str(record.get("header") or "")})
    problem = Problem(domain=domain, prompt=str(record.get("prompt", "")),
                      reference=str(record.get("reference") or record.get("statement") or ""), source="verify",
                      tests=json.dumps(tests) if isinstance(tests, (list, dict)) else tests, metadata=meta)
    return rid, problem, record["candidate"]


def _windows(lines: Iterable[str | bytes]) -> Iterator[list[tuple[int, str]]]:
    window: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = NotUtf8(f"byte {exc.start}: {line[exc.start:exc.start + 1]!r}")
        if isinstance(line, NotUtf8) or line.strip():
            window.append((lineno, line))
        if len(window) >= WINDOW:
            yield window
            window = []
    if window:
        yield window


def verify_lines(lines: Iterable[str | bytes], timeout_s: float = 5.0,
                 stderr: TextIO | None = None) -> Iterator[dict[str, Any]]:
    stderr = stderr or sys.stderr
    verifiers: dict[str, Any] = {}
    try:
        for window in _windows(lines):
            yield from _verify_window(window, verifiers, timeout_s, stderr)
    finally:
        for v in verifiers.values():
            getattr(v, "close", lambda: None)()


def _verify_window(window, verifiers: dict[str, Any], timeout_s: float, stderr: TextIO) -> Iterator[dict[str, Any]]:
    results: list[dict[str, Any] | None] = [None] * len(window)
    by_domain: dict[str, list[tuple[int, Any, Problem, str]]] = {}
    for slot, (lineno, line) in enumerate(window):
        rid, parsed, text = _parse(line, lineno)
        if isinstance(parsed, str):
            print(f"bad_input: {parsed}", file=stderr)
            results[slot] = _bad(rid, parsed)
        else:
            by_domain.setdefault(parsed.domain, []).append((slot, rid, parsed, text))
    for domain, items in by_domain.items():
        try:
            if domain not in verifiers:
                verifiers[domain] = make_verifier(VerificationSection(timeout_s=timeout_s), domain)
        except FactoryError as exc:
            for slot, rid, _, _ in items:
                print(f"bad_input: line {window[slot][0]}: {exc}", file=stderr)
                results[slot] = _bad(rid, f"no verifier for domain {domain!r} yet")
            continue
        graded = grade(verifiers[domain], [(p, t) for _, _, p, t in items])  # the pipeline's path
        for (slot, rid, _, _), (out, _ms) in zip(items, graded):
            results[slot] = {"id": rid, "passed": out.passed, "score": out.score, "reason": out.reason,
                             "extracted": out.extracted, "details": out.details}
    yield from (r for r in results if r is not None)


def verify_file(input_path: str | Path, output_path: str | Path, timeout_s: float = 5.0) -> dict[str, int]:
    src = Path(input_path)
    if not src.is_file():
        raise FactoryError(f"input file not found: {src}")
    counts: dict[str, int] = {}
    with src.open("rb") as fin, atomic_write(output_path, "w") as fout:  # lines decoded strictly, one by one
        for result in verify_lines(fin, timeout_s):
            counts[result["reason"]] = counts.get(result["reason"], 0) + 1
            fout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return counts


def judge_report(input_path: str | Path, judge: Any, timeout_s: float = 5.0) -> dict[str, Any]:
    """`factory verify --judge`: the rule verifier and the equivalence judge on a labelled math
    table ({reference, candidate, label} per line); agreement and Cohen's kappa of the judge
    against the rule verifier and of each against the labels."""
    from verifiers.judge import cohen_kappa
    from verifiers.math import MathVerifier

    src = Path(input_path)
    if not src.is_file():
        raise FactoryError(f"input file not found: {src}")
    rule_v, labels, rule, items, skipped = MathVerifier(timeout_s=timeout_s), [], [], [], 0
    try:
        with src.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    print(f"bad_input: {src}:{lineno}: not UTF-8 (byte {exc.start})", file=sys.stderr)
                    skipped += 1
                    continue
                record = _labelled(line, lineno, src)
                if record is None:
                    skipped += 1 if line.strip() else 0
                    continue
                problem, text, label = record
                r = rule_v.verify(problem, text)
                labels.append(label)
                rule.append(r.passed)
                items.append((problem, text, r.extracted))
    finally:
        rule_v.close()
    outcomes = (judge.verify_batch(items) if hasattr(judge, "verify_batch")
                else [judge.verify(p, t, extracted=e) for p, t, e in items])
    judged = [o.passed for o in outcomes]
    inconsistent = sum("inconsistent" in o.details for o in outcomes)
    if not labels:
        raise FactoryError(f"{src}: no labelled lines ({{reference, candidate, label}} per line)")
    n = len(labels)
    return {"pairs": n, "skipped": skipped, "judge": getattr(judge, "version", "?"),
            "judge_vs_rule_agreement": sum(a == b for a, b in zip(judged, rule)) / n,
            "judge_vs_rule_kappa": cohen_kappa(judged, rule),
            "judge_vs_label_agreement": sum(a == b for a, b in zip(judged, labels)) / n,
            "judge_vs_label_kappa": cohen_kappa(judged, labels),
            "rule_vs_label_agreement": sum(a == b for a, b in zip(rule, labels)) / n,
            "rule_vs_label_kappa": cohen_kappa(rule, labels),
            "judge_inconsistent_orderings": inconsistent,
            "judge_without_a_verdict": sum(o.reason == "error" for o in outcomes)}


def _labelled(line: str, lineno: int, src: Path) -> tuple[Problem, str, bool] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        print(f"bad_input: {src}:{lineno}: invalid JSON ({exc.msg})", file=sys.stderr)
        return None
    label = record.get("label") if isinstance(record, dict) else None
    if not isinstance(label, bool) or not isinstance(record.get("candidate"), str) or record.get("reference") is None:
        print(f"bad_input: {src}:{lineno}: needs reference, candidate and a boolean label", file=sys.stderr)
        return None
    problem = Problem(domain="math", prompt=str(record.get("prompt", "")), reference=str(record["reference"]),
                      source="verify")
    return problem, record["candidate"], label
