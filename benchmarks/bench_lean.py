"""Lean verification speed on the project's reference proofs (lean_core, all accepted).

embedded: the wasm Lean, seconds per proof at batch sizes 1, 10 and 50 (each size one
  `lean --json` run; medians over --repeats runs) and peak memory (~25 s and ~3.5 GB a run).
repl: a pool of leanprover-community REPLs (--repl, or FACTORY_LEAN_REPL, or `repl` on PATH),
  proofs/s with and without header reuse, cold (process start and header compile included)
  and warm (second pass); --header "import Mathlib" with --project a Lake project measures the
  Mathlib case. Skipped, with the reason printed, when no REPL binary is available.
--fake-repl measures the pool's own overhead against tests/verifiers/fake_repl.py instead.

    .venv/bin/python benchmarks/bench_lean.py [--backends embedded repl] [--sizes 1 10 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FAKE = [sys.executable, str(ROOT / "tests/verifiers/fake_repl.py"), str(ROOT / "tests/verifiers/data/lean_repl_transcript.jsonl")]


def reference_items(size: int, header: str | None = None) -> list:
    from factory.config import SourceSection
    from factory.sources import load_problems

    core = load_problems([SourceSection("lean_core", {})], str(ROOT), 0)
    items = []
    for p in (core * (size // len(core) + 1))[:size]:
        meta = json.loads(p.metadata)
        if header is not None:
            p.metadata = json.dumps({**meta, "header": header})
        items.append((p, meta["reference_proof"]))
    return items


def bench_embedded(sizes: list[int], repeats: int) -> None:
    from verifiers.lean import LeanVerifier
    from verifiers.lean.embedded import EmbeddedLean

    verifier = LeanVerifier(backend=EmbeddedLean(per_proof_s=20.0))
    print(f"{'batch':>6} {'wall s (median)':>16} {'s/proof':>9} {'accepted':>9}")
    for size in sizes:
        items = reference_items(size)
        walls, accepted = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            outs = verifier.verify_batch(items)
            walls.append(time.perf_counter() - start)
            accepted = sum(o.passed for o in outs)
        wall = statistics.median(walls)
        print(f"{size:>6} {wall:>16.1f} {wall / size:>9.2f} {accepted:>5}/{size}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(f"peak memory of one Lean run: {peak:.2f} GiB (max RSS of the node process)")


def _timed(verifier, items) -> tuple[float, int]:
    start = time.perf_counter()
    outs = verifier.verify_batch(items)
    return time.perf_counter() - start, sum(o.passed for o in outs)


def fake_items(size: int) -> list:
    """The one proof the fake's transcript answers as accepted, under `import Mathlib`."""
    from schemas import Problem

    problem = Problem(domain="lean", prompt="", reference="theorem r1 (a b : Nat) : a + b = b + a", source="bench",
                      metadata=json.dumps({"header": "import Mathlib"}))
    return [(problem, "by omega")] * size


def bench_repl(repl: str | list[str], project: str | None, pool: int, items: list) -> None:
    from verifiers.lean import LeanVerifier, ReplLean

    size = len(items)
    print(f"{'header reuse':>12} {'pool':>5} {'cold proofs/s':>14} {'warm proofs/s':>14} {'accepted':>9} {'REPLs':>6}")
    for reuse in (True, False):
        backend = ReplLean(repl, project=project, pool_size=pool, reuse_header=reuse, per_proof_s=60.0)
        verifier = LeanVerifier(backend=backend)
        try:
            cold, _ = _timed(verifier, items)
            warm, accepted = _timed(verifier, items)
        finally:
            backend.close()
        print(f"{'yes' if reuse else 'no':>12} {pool:>5} {size / cold:>14.1f} {size / warm:>14.1f} "
              f"{accepted:>5}/{size} {backend.started:>6}")


def repl_binary(arg: str | None) -> tuple[str | None, str]:
    """The REPL to benchmark, or None and why there is none."""
    path = arg or os.environ.get("FACTORY_LEAN_REPL") or shutil.which("repl")
    if path is None:
        return None, "no --repl given, FACTORY_LEAN_REPL unset and no `repl` on PATH"
    if not os.access(path, os.X_OK):
        return None, f"{path} is not an executable file"
    return path, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", choices=["embedded", "repl"], default=["embedded", "repl"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--repl", help="the REPL binary (default: FACTORY_LEAN_REPL, then `repl` on PATH)")
    parser.add_argument("--project", default=os.environ.get("FACTORY_LEAN_PROJECT"), help="Lake project (Mathlib)")
    parser.add_argument("--header", help='header for every proof, e.g. "import Mathlib" (default: the problem\'s)')
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--repl-size", type=int, default=50, help="proofs per REPL pass")
    parser.add_argument("--fake-repl", action="store_true", help="the pool's own overhead, on the fake REPL")
    args = parser.parse_args()

    if "embedded" in args.backends:
        print("== embedded (wasm) Lean")
        bench_embedded(args.sizes, args.repeats)
    if "repl" in args.backends:
        print("== repl backend (leanprover-community REPL pool)")
        if args.fake_repl:
            print("fake REPL (tests/verifiers/fake_repl.py): pool and protocol overhead only, no Lean")
            bench_repl(FAKE, None, args.pool, fake_items(args.repl_size))
            return
        repl, why = repl_binary(args.repl)
        if repl is None:
            print(f"SKIPPED: {why}. Build one with `lake build` in a clone of "
                  "https://github.com/leanprover-community/repl (needs elan and GitHub access, neither on this "
                  "machine); --fake-repl measures the pool's overhead without Lean.")
            return
        bench_repl(repl, args.project, args.pool, reference_items(args.repl_size, args.header))


if __name__ == "__main__":
    main()
