"""False fails of the code verifier on correct public programs.

Every row of tests/verifiers/data/code_public/ is a reference solution from public benchmark
data (HumanEval, MBPP, Exercism, CodeContests; sources and licences in that folder's README)
that passes its own tests as a plain, unsandboxed python3 program (check_plain.py). So each
row the verifier fails is a false fail: a correct program graded as failing. The assertion
message lists every one with its verdict reason and details.

The sandbox is on here exactly as in production (see test_code.py): if it cannot start on
this machine, every row fails with reason 'error' and the message says so.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from schemas import Problem
from verifiers.code import CodeVerifier, parse_tests

DATA = Path(__file__).resolve().parent / "data" / "code_public"
FILES = ("function_tests.jsonl", "stdio_tests.jsonl")
MIN_ROWS = {"function_tests.jsonl": 150, "stdio_tests.jsonl": 60}


def _check_plain():
    spec = importlib.util.spec_from_file_location("code_public_check_plain", DATA / "check_plain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def problem(row: dict) -> Problem:
    return Problem(domain="code", prompt=f"public reference solution {row['id']}", reference=row["solution"],
                   source=row["source"].split(":")[0], tests=json.dumps(row["tests"]))


def answer(row: dict) -> str:
    return "```python\n" + row["solution"] + "\n```"


@pytest.fixture(scope="module")
def verifier():
    v = CodeVerifier(timeout_s=10.0)
    yield v
    v.close()


@pytest.mark.parametrize("name", FILES)
def test_table_is_well_formed(name):
    rows = load(name)
    assert len(rows) >= MIN_ROWS[name]
    assert len({r["id"] for r in rows}) == len(rows), "duplicate ids"
    for r in rows:
        assert set(r) == {"id", "source", "solution", "tests"}, r["id"]
        cases = parse_tests(r["tests"])  # the factory's own parser accepts every row
        if name == "stdio_tests.jsonl":
            assert all(c.mode == "io" for c in cases) and len(cases) >= 3, r["id"]
        else:
            assert [c.mode for c in cases] == ["assert"], r["id"]


@pytest.mark.parametrize("name", FILES)
def test_no_false_fails(verifier, name):
    rows = load(name)
    outcomes = verifier.verify_batch([(problem(r), answer(r)) for r in rows])
    assert len(outcomes) == len(rows)
    failing = [(r["id"], o) for r, o in zip(rows, outcomes) if not o.passed]
    lines = [f"  {rid}: {o.reason} (score {o.score:.2f}): {(o.details or '')[:600]}" for rid, o in failing]
    assert not failing, (f"{len(failing)} of {len(rows)} correct programs in {name} failed the code verifier "
                         f"(false fails):\n" + "\n".join(lines))


def test_plain_check_still_holds_for_a_sample():
    """The ground truth itself: a few rows of each source still pass as plain python3 programs."""
    check = _check_plain()
    sample = []
    for name in FILES:
        by_source: dict[str, list[dict]] = {}
        for r in load(name):
            by_source.setdefault(r["source"].split(":")[0], []).append(r)
        for rows in by_source.values():
            sample += [rows[0], rows[len(rows) // 2], rows[-1]]
    failures = {r["id"]: f for r in sample if (f := check.check_row(r, timeout=30.0))}
    assert not failures, failures
