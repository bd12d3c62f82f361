"""The math verifier against real model solutions with public correct/incorrect labels.

tests/verifiers/data/math_public/pairs.jsonl.gz holds solutions written by real models
(ProcessBench: Llama-3/3.1 and Qwen2/2.5 families on GSM8K, MATH and OlympiadBench), each with
the benchmark's own final-answer label (see that folder's README.md). A row's expected verdict
is `corrected_label` where the README documents a correction, else `label`.

Targets (GRADING.md, Math): no false passes at all (a wrong answer graded correct) and at least
99.5% agreement overall. On failure every disagreeing row is listed.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from schemas import Problem
from verifiers.math import MathVerifier

TABLE = Path(__file__).parent / "data" / "math_public" / "pairs.jsonl.gz"
MIN_AGREEMENT = 0.995


def load_rows() -> list[dict]:
    with gzip.open(TABLE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def expected(row: dict) -> bool:
    return bool(row.get("corrected_label", row["label"]))


def grade(rows: list[dict], verifier: MathVerifier) -> list[tuple[dict, object]]:
    results = []
    for row in rows:
        problem = Problem(domain="math", prompt=row.get("problem") or "q",
                          reference=row["reference"], source=row["source"])
        results.append((row, verifier.verify(problem, row["output"])))
    return results


def _short(text: object, n: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


def report(results) -> str:
    lines = []
    for kind, want in (("FALSE PASS", False), ("FALSE FAIL", True)):
        for row, out in results:
            if expected(row) == want and out.passed != want:
                lines.append(f"{kind} {row['id']} ref={_short(row['reference'], 40)!r} "
                             f"got={_short(out.extracted, 50)!r} reason={out.reason}: {_short(out.details)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(timeout_s=5.0)
    yield v
    v.close()


def test_table_shape():
    rows = load_rows()
    assert len(rows) >= 1000
    assert len({r["id"] for r in rows}) == len(rows)
    labels = Counter(expected(r) for r in rows)
    assert labels[True] >= 300 and labels[False] >= 300, labels
    for r in rows:
        assert r["reference"].strip() and r["output"].strip() and len(r["output"]) <= 12_000, r["id"]
        assert isinstance(r["label"], bool) and r["label_from"], r["id"]
        assert "corrected_label" not in r or r.get("note"), r["id"]


def test_public_math_pairs(verifier):
    rows = load_rows()
    start = time.perf_counter()
    results = grade(rows, verifier)
    elapsed = time.perf_counter() - start
    false_pass = sum(1 for row, out in results if out.passed and not expected(row))
    false_fail = sum(1 for row, out in results if not out.passed and expected(row))
    agree = 1 - (false_pass + false_fail) / len(rows)
    by_source = Counter(row["source"] for row, out in results if out.passed != expected(row))
    summary = (f"{len(rows)} rows in {elapsed:.1f}s: agreement {agree:.4f}, false passes {false_pass}, "
               f"false fails {false_fail}; disagreements by source {dict(by_source)}")
    print(summary)
    assert false_pass == 0 and agree >= MIN_AGREEMENT, summary + "\n" + report(results)
