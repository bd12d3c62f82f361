"""Adaptive sampling budget vs fixed n, same budget, same process: distinct verified solutions
per generated token.

The scripted `rate` solver gives every problem a known pass rate (from `--rates`, by prompt
hash) and `--variants` phrasings (at most that many distinct right answers). Fixed n samples n
per problem; adaptive samples in rounds with the same total budget (n x problems) and stops
problems at m distinct verified solutions, as hopeless, or on duplicates. Runs alternate
fixed/adaptive over `--repeats` seeds; medians are printed.

    .venv/bin/python benchmarks/bench_adaptive.py [--problems 60] [--n 16] [--m 4] [--repeats 5]

`--config PATH` runs a real model instead (e.g. pipelines/configs/adaptive_cpu.toml, the embedded
135M model): fixed n into runs/<run_id>-fixed, then adaptive with the same budget into
runs/<run_id>-adaptive, in this process with one engine (loaded once); rerunning resumes both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONFIG = """
[run]
run_id = "{run_id}"
output_dir = "{out}"
seed = {seed}
chunk_size = 16
[[sources]]
name = "procedural_math"
kinds = ["arithmetic"]
count = {problems}
difficulty = 2
[generation]
backend = "scripted"
model = "scripted"
n = {n}
[generation.options]
solver = "rate"
pass_rates = {rates}
variants = {variants}
"""


def measure(states: dict, m: int) -> dict[str, float]:
    tokens = sum(s.tokens for s in states.values())
    distinct = sum(s.distinct for s in states.values())
    useful = sum(min(s.distinct, m) for s in states.values())
    return {"samples": sum(s.samples for s in states.values()), "tokens": tokens,
            "distinct": distinct, "useful": useful,
            "distinct_per_1k": 1000 * distinct / tokens, "useful_per_1k": 1000 * useful / tokens,
            "solved": sum(s.passed > 0 for s in states.values()),
            "reached_m": sum(s.distinct >= m for s in states.values())}


def print_table(results: dict[str, list[dict[str, float]]], m: int) -> None:
    keys = [("samples", "samples"), ("tokens", "tokens generated"), ("distinct", "distinct verified"),
            ("useful", "distinct verified, ≤ m per problem"), ("distinct_per_1k", "distinct verified / 1k tokens"),
            ("useful_per_1k", "≤ m per problem / 1k tokens"), ("solved", "problems with ≥ 1 verified"),
            ("reached_m", "problems with ≥ m distinct")]
    print("| metric | fixed n | adaptive | ratio |\n|---|---|---|---|")
    for key, label in keys:
        f = statistics.median(r[key] for r in results["fixed"])
        a = statistics.median(r[key] for r in results["adaptive"])
        print(f"| {label} | {f:,.4g} | {a:,.4g} | {a / f if f else float('nan'):.2f}x |")


def run_config(path: Path, m: int) -> None:
    import time

    from factory.config import load_config
    from factory.sources import load_problems
    from pipelines.adaptive import AdaptiveSettings, read_states, run_adaptive
    from pipelines.sample import make_backend, run_sampling

    base = load_config(path)
    backend = make_backend(base)  # one engine for both sides
    results: dict[str, list[dict[str, float]]] = {}
    for kind in ("fixed", "adaptive"):
        cfg = load_config(path, {"run.run_id": f"{base.run.run_id}-{kind}"})
        problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
        start = time.perf_counter()
        if kind == "fixed":
            run_sampling(cfg, backend)
            states = read_states(cfg.run_dir, problems, cfg.run.iteration)
        else:
            report = run_adaptive(cfg, AdaptiveSettings(target_distinct=m), backend,
                                  on_round=lambda rnd, planned, _: print(f"round {rnd}: {planned} samples", flush=True))
            states = report.states
            print(f"adaptive: {report.rounds} rounds, stopped {report.stopped}", flush=True)
        results[kind] = [measure(states, m)]
        print(f"{kind}: {time.perf_counter() - start:.0f} s -> {cfg.run_dir}", flush=True)
    print(f"\n{len(problems)} problems, {base.generation.model}, budget n={base.generation.n} per problem, m={m}\n")
    print_table(results, m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--m", type=int, default=4)
    parser.add_argument("--variants", type=int, default=6)
    parser.add_argument("--rates", default="[0.0, 0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.9, 1.0]")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--config", type=Path, help="A real run config: one measured pair instead of the scripted one.")
    args = parser.parse_args()
    if args.config:
        return run_config(args.config, args.m)

    from factory.config import load_config
    from factory.sources import load_problems
    from pipelines.adaptive import AdaptiveSettings, read_states, run_adaptive
    from pipelines.sample import run_sampling

    results: dict[str, list[dict[str, float]]] = {"fixed": [], "adaptive": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.repeats):
            for kind in ("fixed", "adaptive"):
                path = Path(tmp) / f"{kind}-{seed}.toml"
                path.write_text(CONFIG.format(run_id=f"{kind}-{seed}", out=Path(tmp) / "runs", seed=seed,
                                              problems=args.problems, n=args.n, rates=args.rates,
                                              variants=args.variants))
                cfg = load_config(path)
                problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
                if kind == "fixed":
                    run_sampling(cfg)
                    states = read_states(cfg.run_dir, problems, 0)
                else:
                    states = run_adaptive(cfg, AdaptiveSettings(target_distinct=args.m)).states
                results[kind].append(measure(states, args.m))
    print(f"{args.problems} problems, pass rates {args.rates} (by prompt hash), {args.variants} phrasings, "
          f"budget n={args.n} per problem, m={args.m}; medians of {args.repeats} seeds\n")
    print_table(results, args.m)


if __name__ == "__main__":
    main()
