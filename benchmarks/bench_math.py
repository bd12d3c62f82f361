"""Math verification on real model outputs: ours vs plain math-verify, same pairs, same run.

Pairs are the public table (tests/verifiers/data/math_public: 1,621 real solutions with public
labels). Each repeat uses a fresh verifier (no warm cache) and runs both checkers on the same
pairs in alternating order; medians of --repeats runs. Also reports each checker's agreement with
the labels and its false passes.

    .venv/bin/python benchmarks/bench_math.py [--repeats 3] [--limit 0]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TABLE = ROOT / "tests" / "verifiers" / "data" / "math_public" / "pairs.jsonl.gz"


def load(limit: int) -> list[dict]:
    with gzip.open(TABLE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return rows[:limit] if limit else rows


def label(row: dict) -> bool:
    return bool(row.get("corrected_label", row["label"]))


def run_ours(rows: list[dict]) -> tuple[float, list[bool]]:
    from schemas import Problem
    from verifiers.math import MathVerifier

    verifier = MathVerifier(timeout_s=5.0)
    verifier.verify(Problem(domain="math", prompt="", reference="x", source="b"), "\\boxed{x+0}")  # start the worker
    problems = [Problem(domain="math", prompt="", reference=r["reference"], source="b") for r in rows]
    start = time.perf_counter()
    verdicts = [verifier.verify(p, r["output"]).passed for p, r in zip(problems, rows)]
    elapsed = time.perf_counter() - start
    verifier.close()
    return len(rows) / elapsed, verdicts


def run_math_verify(rows: list[dict]) -> tuple[float, list[bool]]:
    from math_verify import parse, verify

    start = time.perf_counter()
    verdicts = []
    for row in rows:
        try:
            verdicts.append(bool(verify(parse(f"${row['reference']}$"), parse(row["output"]))))
        except BaseException:  # its own timeout or a parser crash counts as "not equal"
            verdicts.append(False)
    return len(rows) / (time.perf_counter() - start), verdicts


def score(verdicts: list[bool], rows: list[dict]) -> tuple[float, int, int]:
    """(agreement with labels, false passes, false fails)"""
    fp = sum(v and not label(r) for v, r in zip(verdicts, rows))
    ff = sum(label(r) and not v for v, r in zip(verdicts, rows))
    return 1 - (fp + ff) / len(rows), fp, ff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs (0: all)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = load(args.limit)
    ours, theirs = [], []
    for rep in range(args.repeats):
        order = (run_ours, run_math_verify) if rep % 2 == 0 else (run_math_verify, run_ours)
        results = {fn: fn(rows) for fn in order}
        ours.append(results[run_ours][0])
        theirs.append(results[run_math_verify][0])
        v_ours, v_theirs = results[run_ours][1], results[run_math_verify][1]
    print(f"pairs: {len(rows)} real model solutions (public table)   runs: {args.repeats}")
    print(f"ours:        median {statistics.median(ours):8.1f} pairs/s  (runs: {', '.join(f'{r:.0f}' for r in ours)})")
    print(f"math-verify: median {statistics.median(theirs):8.1f} pairs/s  (runs: {', '.join(f'{r:.0f}' for r in theirs)})")
    print(f"speed ratio ours / math-verify: {statistics.median(ours) / statistics.median(theirs):.2f}x")
    for name, verdicts in (("ours", v_ours), ("math-verify", v_theirs)):
        agree, fp, ff = score(verdicts, rows)
        print(f"{name:12s} agreement with labels {agree * 100:6.2f}%   false passes {fp:3d}   false fails {ff:3d}")


if __name__ == "__main__":
    main()
