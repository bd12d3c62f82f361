"""Embedded (wasm) Lean: seconds per proof at batch sizes 1, 10 and 50, and peak memory.
Each size is one `lean --json` run; medians over --repeats runs. For a native `lean` on PATH,
use the same script with --native (proofs/s; header reuse needs the REPL backend, not built yet).

    .venv/bin/python benchmarks/bench_lean.py [--sizes 1 10 50] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    from factory.config import SourceSection
    from factory.sources import load_problems
    from verifiers.lean import LeanVerifier

    core = load_problems([SourceSection("lean_core", {})], ".", 0)
    verifier = LeanVerifier()
    print(f"{'batch':>6} {'wall s (median)':>16} {'s/proof':>9} {'accepted':>9}")
    for size in args.sizes:
        items = [(p, json.loads(p.metadata)["reference_proof"]) for p in (core * (size // len(core) + 1))[:size]]
        walls, accepted = [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            outs = verifier.verify_batch(items)
            walls.append(time.perf_counter() - start)
            accepted = sum(o.passed for o in outs)
        wall = statistics.median(walls)
        print(f"{size:>6} {wall:>16.1f} {wall / size:>9.2f} {accepted:>5}/{size}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak memory of one Lean run: {peak:.2f} GiB (max RSS of the node process)")


if __name__ == "__main__":
    main()
