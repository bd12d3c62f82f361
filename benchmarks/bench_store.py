"""Shard writer throughput vs bare `pyarrow.parquet.write_table` on the same rows.

Both write the same Arrow table with zstd; the factory path adds the temp-name + fsync +
rename + manifest commit. Runs alternate, medians of --repeats runs are reported.

    .venv/bin/python benchmarks/bench_store.py [--rows 50000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq  # noqa: E402

from factory.store import RunStore  # noqa: E402
from schemas import Candidate, candidate_id_for, to_table  # noqa: E402

WORDS = "the answer is we add then so compute step first next total apples sum equals".split()


def make_candidates(n: int) -> list[Candidate]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 200))) + f" \\boxed{{{i}}}"
        out.append(Candidate(candidate_id=candidate_id_for("bench", 0, f"p{i // 4}", i % 4), problem_id=f"p{i // 4}",
                             run_id="bench", iteration=0, sample_idx=i % 4, domain="math", model="m", backend="b",
                             prompt_text="<|im_start|>user\nWhat is 2+2?<|im_end|>", text=text,
                             finish_reason="stop", prompt_tokens=20,
                             completion_tokens=len(text.split()), latency_ms=1.5, temperature=0.7, top_p=0.95,
                             max_tokens=256, seed=i, hinted=False, created_at_ms=0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    records = make_candidates(args.rows)
    start = time.perf_counter()
    table = to_table(records, "candidates")
    convert_s = time.perf_counter() - start
    mib = table.nbytes / 2**20
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            pq.write_table(table, Path(tmp) / f"bare-{rep}.parquet", compression="zstd")
            bare.append(time.perf_counter() - t0)
            store = RunStore(Path(tmp) / f"run-{rep}", "bench")
            store.open_run({"config_hash": "bench"})
            t0 = time.perf_counter()
            store.commit("it0-math-00000", 0, "math", {"candidates": table})
            ours.append(time.perf_counter() - t0)
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"rows: {args.rows}   arrow data: {mib:.1f} MiB   repeats: {args.repeats}")
    print(f"bare pq.write_table (zstd):      median {b * 1000:8.1f} ms   {mib / b:7.1f} MiB/s")
    print(f"factory RunStore.commit:         median {o * 1000:8.1f} ms   {mib / o:7.1f} MiB/s")
    print(f"throughput ratio factory/bare:   {b / o:.3f}   (goal >= 0.9)")
    print(f"records -> Arrow (validated), once: {convert_s * 1000:.1f} ms ({args.rows / convert_s:,.0f} rows/s)")


if __name__ == "__main__":
    main()
