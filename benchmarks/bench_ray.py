"""Local vs Ray executor on the same run: candidates/s with the scripted backend and the real
math verifier (or, with --domain code, the code sandbox), the scaling from 1 to 2 CPU verification workers, GPU-side idle time, and a
100k-problem run's peak memory under a configured budget.

    .venv/bin/python benchmarks/bench_ray.py [--problems 4000] [--n 4] [--repeats 3]
    .venv/bin/python benchmarks/bench_ray.py --domain code --problems 1000
    .venv/bin/python benchmarks/bench_ray.py --gen-delay 0.002
    .venv/bin/python benchmarks/bench_ray.py --big 100000 --memory-budget-gib 6

Throughput: every repeat runs local, ray(1 verify worker) and ray(2 verify workers) back to
back on fresh run directories (so machine noise hits all three alike); medians and ratios
against local are printed. One Ray is started for the whole benchmark (its start-up is printed
on its own and is not in any run's time). `--gen-delay` is the scripted backend's per-problem
sleep, standing in for a GPU engine: with it, generation is the slow stage and the GPU-side idle
fraction (share of a generation actor's active span spent not generating) says whether the
engine ever waited for verification.

Memory (`--big`): one Ray run of N procedural problems with `memory_budget_gib` as the object
store and Ray Data budget; a sampler thread sums the PSS (proportional set size: shared pages
such as the object store counted once) of this process and every process under it (GCS,
raylet, workers) and prints the peak beside the budget."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402  (a dependency of ray)

from factory.config import parse_config  # noqa: E402
import pipelines.sample as sample  # noqa: E402


CODE_TEXTS = ["```python\ndef solve(a, b):\n    return a + b\n```",  # passes
              "```python\ndef solve(a, b):\n    return a - b\n```"]  # fails its tests
DOMAIN = {"name": "math"}  # set from --domain in main()


def code_problems(path: Path, count: int) -> Path:
    """`count` code problems whose tests run `solve` in the sandbox (~ms per candidate)."""
    if not path.exists():
        with open(path, "w") as fh:
            for i in range(count):
                tests = {"type": "assert", "code": f"assert solve({i}, {i + 1}) == {2 * i + 1}\n"
                                                   f"assert solve(-{i}, 3) == {3 - i}"}
                fh.write(json.dumps({"prompt": f"Write solve(a, b) returning a + b (#{i}).", "answer": "",
                                     "tests": tests}) + "\n")
    return path


def config(out: Path, run_id: str, problems: int, n: int, chunk: int, delay: float, executor: str,
           options: dict) -> object:
    gen_options: dict = {"delay_s": delay}
    if DOMAIN["name"] == "code":
        source = {"name": "jsonl", "path": str(code_problems(out.parent / f"code-{problems}.jsonl", problems)),
                  "domain": "code", "tests_field": "tests"}
        gen_options["texts"] = CODE_TEXTS
    else:  # the scripted solver answers arithmetic, so every candidate reaches the math verifier
        source = {"name": "procedural_math", "kinds": ["arithmetic"], "count": problems, "difficulty": 3}
    raw = {"run": {"run_id": run_id, "output_dir": str(out), "seed": 0, "chunk_size": chunk}, "sources": [source],
           "generation": {"backend": "scripted", "model": "scripted", "n": n, "options": gen_options}}
    return parse_config(raw, overrides={"run.executor": executor, "run.executor_options": options})


def timed_run(cfg) -> tuple[float, int, object]:
    made = {}
    original = sample.make_executor
    sample.make_executor = lambda c: made.setdefault("ex", original(c))
    try:
        start = time.perf_counter()
        report = sample.run_sampling(cfg)
        wall = time.perf_counter() - start
    finally:
        sample.make_executor = original
    return wall, report.summary["candidates"], made["ex"]


class PeakMemory:
    """Samples the summed PSS of this process tree every `every` seconds."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.peak, self.peak_procs, self.samples = every, 0, 0, 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total, procs = 0, 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss
                    procs += 1
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            if total > self.peak:
                self.peak, self.peak_procs = total, procs
            self.samples += 1
            self._stop.wait(self.every)

    def __enter__(self) -> "PeakMemory":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()


def start_ray(num_cpus: int, budget_gib: float | None) -> float:
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             object_store_memory=int(budget_gib * 2**30) if budget_gib else None)
    return time.perf_counter() - start


def throughput(args, tmp: Path) -> None:
    cap = {} if args.max_chunks_in_flight is None else {"max_chunks_in_flight": args.max_chunks_in_flight}
    variants = {"local": ("local", {}),
                "ray, 1 verify worker": ("ray", {"verify_workers": 1, **cap}),
                "ray, 2 verify workers": ("ray", {"verify_workers": 2, **cap})}
    rates: dict[str, list[float]] = {name: [] for name in variants}
    steady: dict[str, list[float]] = {name: [] for name in variants}
    startup: dict[str, list[float]] = {name: [] for name in variants}
    idle: dict[str, list[float]] = {name: [] for name in variants}
    # Ray's first Data job in a session pays its one-off worker imports (~20 s here): not a run cost
    warm = time.perf_counter()
    timed_run(config(tmp / "warmup", "warmup", 100, 1, args.chunk, 0.0, "ray", {"verify_workers": 2}))
    print(f"warm-up Ray run: {time.perf_counter() - warm:.1f} s (not counted)", flush=True)
    for rep in range(args.repeats):
        for name, (executor, options) in variants.items():
            out = tmp / f"rep{rep}"
            cfg = config(out, f"{executor}-{len(rates[name])}-{options.get('verify_workers', 0)}", args.problems,
                         args.n, args.chunk, args.gen_delay, executor, options)
            wall, candidates, ex = timed_run(cfg)
            rates[name].append(candidates / wall)
            lag = ex.stats.startup_s if executor == "ray" else 0.0  # actor start + processor unpickle
            startup[name].append(lag)
            steady[name].append(candidates / (wall - lag))
            if executor == "ray":
                idle[name].append(ex.stats.gen_idle_fraction)
                assert ex.stats.duplicates_dropped == 0 and ex.stats.attempts == 1
            print(f"  repeat {rep + 1} {name:<22} {candidates} candidates in {wall:6.2f} s "
                  f"= {candidates / wall:8.1f}/s", flush=True)
            shutil.rmtree(out / cfg.run.run_id, ignore_errors=True)
    base = statistics.median(rates["local"])
    print(f"\n{args.problems} problems x n={args.n}, chunk {args.chunk}, scripted gen delay "
          f"{args.gen_delay * 1000:g} ms/problem, {args.domain} verifier; medians of {args.repeats}")
    print("(steady: after the first chunk starts generating, i.e. without the per-run actor start-up)")
    print(f"{'executor':<24}{'candidates/s':>14}{'vs local':>10}{'start-up s':>12}{'steady/s':>10}"
          f"{'vs local':>10}{'GPU-side idle':>16}")
    steady_base = statistics.median(steady["local"])
    for name in variants:
        med, flat = statistics.median(rates[name]), statistics.median(steady[name])
        gap = f"{statistics.median(idle[name]):.1%}" if idle[name] else "-"
        print(f"{name:<24}{med:>14.1f}{med / base:>9.2f}x{statistics.median(startup[name]):>12.1f}"
              f"{flat:>10.1f}{flat / steady_base:>9.2f}x{gap:>16}")
    one, two = (statistics.median(steady[k]) for k in ("ray, 1 verify worker", "ray, 2 verify workers"))
    print(f"scaling 1 -> 2 CPU verify workers (steady): {two / one:.2f}x (this machine: {psutil.cpu_count()} cores, "
          f"shared by the driver, the generation actor and the verifiers)")


def big_run(args, tmp: Path) -> None:
    # half the budget is the object store (and Ray Data's limit), the rest is for the processes
    options = {"verify_workers": 1, "memory_budget_gib": args.memory_budget_gib / 2}
    if args.max_chunks_in_flight is not None:
        options["max_chunks_in_flight"] = args.max_chunks_in_flight
    cfg = config(tmp, "big", args.big, args.n, args.chunk, 0.0, "ray", options)
    with PeakMemory() as mem:
        wall, candidates, ex = timed_run(cfg)
    budget = args.memory_budget_gib * 2**30
    print(f"\n{args.big} problems x n={args.n} on Ray (chunk {args.chunk}): {candidates} candidates in {wall:.0f} s "
          f"= {candidates / wall:.0f}/s, {ex.stats.committed} chunks committed, max {ex.stats.max_in_flight} in flight "
          f"(cap {args.max_chunks_in_flight if args.max_chunks_in_flight is not None else 'default'})")
    print(f"peak PSS of the process tree: {mem.peak / 2**30:.2f} GiB over {mem.peak_procs} processes "
          f"({mem.samples} samples); budget {args.memory_budget_gib:g} GiB -> "
          f"{'within budget' if mem.peak <= budget else 'OVER BUDGET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=4000)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gen-delay", type=float, default=0.0, help="scripted seconds per problem (a GPU stand-in)")
    parser.add_argument("--domain", choices=["math", "code"], default="math",
                        help="code: verification in the sandbox (~ms per candidate) instead of math (~0.1 ms)")
    parser.add_argument("--max-chunks-in-flight", type=int, default=None,
                        help="the Ray executor's in-flight cap (default: its own, 8 per actor; 0: bytes only)")
    parser.add_argument("--big", type=int, default=0, help="run the N-problem memory benchmark instead")
    parser.add_argument("--memory-budget-gib", type=float, default=6.0)
    args = parser.parse_args()
    DOMAIN["name"] = args.domain

    with tempfile.TemporaryDirectory(prefix="bench-ray-") as name:
        # 3 logical CPUs: the generation actor's 1 plus up to 2 verify workers (2 physical cores here)
        budget = args.memory_budget_gib / 2 if args.big else None
        print(f"ray.init: {start_ray(3, budget):.1f} s (not counted in any run)", flush=True)
        if args.big:
            big_run(args, Path(name))
        else:
            throughput(args, Path(name))


if __name__ == "__main__":
    main()
