"""Rollouts saved by the binary search for the first bad step vs labelling every prefix.

One sampled run per solution length (scripted `steps` solver: "What is EXPR?" with `ops`
operations → ops + 2 steps, each operation wrong with `--error-rate`, rollouts err at
`--rollout-error-rate`), then both strategies label the same candidates with k rollouts per
probed prefix. Reported: rollouts used by each, the saving, how often both find the same first
bad step, and the hard-label agreement per step.

    .venv/bin/python benchmarks/bench_rollouts.py [--problems 40] [--n 4] [--k 8]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIG = """
[run]
run_id = "bench-{ops}"
output_dir = "{out}"
seed = 3
chunk_size = 16
[[sources]]
name = "jsonl"
path = "{data}"
[generation]
backend = "scripted"
model = "scripted"
n = {n}
[generation.options]
solver = "steps"
step_error_rate = {rate}
rollout_error_rate = {rollout}
"""


def write_problems(path: Path, count: int, ops: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for _ in range(count):
            terms = [rng.randint(1, 20) for _ in range(ops + 1)]
            expr = str(terms[0]) + "".join(f" {rng.choice('+-*')} {t}" for t in terms[1:])
            fh.write(json.dumps({"prompt": f"What is {expr}?", "answer": str(eval(expr))}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=40)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--error-rate", type=float, default=0.08)
    parser.add_argument("--rollout-error-rate", type=float, default=0.08)
    parser.add_argument("--ops", default="3,8,16,30")
    args = parser.parse_args()

    from factory.config import load_config
    from pipelines.prm_export import connect_with_steps
    from pipelines.rollouts import RolloutSettings, label_steps
    from pipelines.sample import run_sampling

    print(f"| steps | candidates (with a bad step) | rollouts, every prefix | rollouts, binary | saved | same first bad step | "
          f"step labels agree | time all / binary |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for ops in [int(x) for x in args.ops.split(",")]:
            data = Path(tmp) / f"p{ops}.jsonl"
            write_problems(data, args.problems, ops, ops)
            cfg_path = Path(tmp) / f"c{ops}.toml"
            cfg_path.write_text(CONFIG.format(ops=ops, out=Path(tmp) / "runs", data=data, n=args.n,
                                              rate=args.error_rate, rollout=args.rollout_error_rate))
            cfg = load_config(cfg_path)
            run_sampling(cfg)
            reports = {s: label_steps(cfg.run_dir, RolloutSettings(k=args.k, strategy=s, per_problem=0,
                                                                   max_steps=ops + 2))
                       for s in ("all", "binary")}
            con = connect_with_steps(cfg.run_dir)
            same, failed = con.execute("""
                SELECT avg((a.first_bad_step = b.first_bad_step)::INT), sum((a.step_idx = 0 AND a.first_bad_step >= 0
                       OR a.step_idx = 0 AND b.first_bad_step >= 0)::INT)
                FROM steps a JOIN steps b USING (candidate_id, step_idx)
                WHERE a.strategy = 'all' AND b.strategy = 'binary' AND a.step_idx = 0""").fetchone()
            agree = con.execute("""SELECT avg((a.label = b.label)::INT) FROM steps a JOIN steps b
                USING (candidate_id, step_idx) WHERE a.strategy = 'all' AND b.strategy = 'binary'""").fetchone()[0]
            a, b = reports["all"], reports["binary"]
            print(f"| {ops + 2} | {a.candidates} ({failed}) | {a.rollouts:,} | {b.rollouts:,} | "
                  f"{1 - b.rollouts / a.rollouts:.1%} | {same:.1%} | {agree:.1%} | {a.wall_s:.2f} s / {b.wall_s:.2f} s |")


if __name__ == "__main__":
    main()
