"""Code sandbox throughput: the v2 sandbox (tests in their own process, proxies, fresh
namespaces per execution) against the v1 harness (tests inside the candidate's interpreter,
read from git) and against a plain, unsandboxed `python3` subprocess per case, in the same run.

Workloads:
- small: `add(a, b)` with one assert (the sandbox's own overhead);
- humaneval: HumanEval-style function tasks with their check() (the public table's rows when
  present, else built-in ones);
- io: a stdin/stdout program.
Also the cost of one proxied call (a test loop of N calls against one call), and of the wire
format alone. Medians of --repeats runs; each run alternates the implementations.

    .venv/bin/python benchmarks/bench_sandbox.py [--repeats 5] [--execs 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "7a4b2ac"  # the last commit with the v1 in-interpreter harness
PUBLIC = ROOT / "tests" / "verifiers" / "data" / "code_public" / "function_tests.jsonl"

HUMANEVAL_LIKE = [
    ("def has_close_elements(numbers, threshold):\n    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
     "            if i != j and abs(a - b) < threshold:\n                return True\n    return False\n",
     "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True\n"
     "    assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False\n    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n"
     "check(has_close_elements)\n"),
    ("def separate_paren_groups(s):\n    out, cur, depth = [], '', 0\n    for c in s:\n        if c == '(':\n            depth += 1\n"
     "            cur += c\n        elif c == ')':\n            depth -= 1\n            cur += c\n            if depth == 0:\n"
     "                out.append(cur)\n                cur = ''\n    return out\n",
     "def check(candidate):\n    assert candidate('(()()) ((())) () ((())()())') == ['(()())', '((()))', '()', '((())()())']\n"
     "    assert candidate('() (()) ((())) (((())))') == ['()', '(())', '((()))', '(((())))']\ncheck(separate_paren_groups)\n"),
]


def load_old_pool():
    """The v1 sandbox's pool module, from git, with its runner and harness beside it."""
    tmp = Path(tempfile.mkdtemp(prefix="old-sandbox-"))
    for name in ("pool.py", "runner.py", "harness.py"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:verifiers/sandbox/{name}"],
                              capture_output=True, text=True, check=True).stdout
        (tmp / name).write_text(text)
    spec = importlib.util.spec_from_file_location("old_sandbox_pool", tmp / "pool.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def humaneval_tasks(n_max: int = 40) -> list[tuple[str, str]]:
    if PUBLIC.exists():
        rows = [json.loads(line) for line in PUBLIC.read_text().splitlines() if line.strip()]
        tasks = []
        for row in rows:
            tests = row["tests"][0] if isinstance(row["tests"], list) else row["tests"]
            if "HumanEval" in row.get("source", "") + row.get("id", ""):
                tasks.append((row["solution"], tests["code"]))
        if tasks:
            return tasks[:n_max]
    return HUMANEVAL_LIKE


def workloads(n: int) -> dict[str, list[tuple[str, str, str, str]]]:
    """(mode, code, tests, stdin, expected stdout) per execution."""
    small = [("assert", "def add(a, b):\n    return a + b\n", f"assert add({i}, 1) == {i + 1}", "", None) for i in range(n)]
    tasks = humaneval_tasks()
    he = [("assert", *tasks[i % len(tasks)], "", None) for i in range(n)]
    io = [("io", "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n", "", f"{i} 1 2\n", f"{i + 3}\n")
          for i in range(n)]
    return {"small": small, "humaneval": he, "io": io}


def run_pool(pool_module, jobs, workers: int) -> float:
    pool = pool_module.SandboxPool(workers)
    execs = [pool_module.Execution(code=c, mode=m, tests=t, stdin=s, expected_stdout=e) for m, c, t, s, e in jobs]
    pool.run_batch(execs[: workers * 2])  # start the servers
    start = time.perf_counter()
    results = pool.run_batch(execs)
    elapsed = time.perf_counter() - start
    pool.close()
    bad = [r for r in results if not r.passed]
    if bad:
        raise SystemExit(f"{pool_module.__name__}: a correct execution failed: {bad[0]}")
    return len(jobs) / elapsed


def run_plain(jobs, workers: int) -> float:
    """One unsandboxed `python3` per case (no isolation at all): the floor to beat."""
    todo = list(jobs)
    lock = threading.Lock()

    def serve():
        while True:
            with lock:
                if not todo:
                    return
                mode, code, tests, stdin, _ = todo.pop()
            program = code + "\n" + tests if mode == "assert" else code
            subprocess.run(["/usr/bin/python3", "-c", program], input=stdin.encode(), capture_output=True, check=True)

    start = time.perf_counter()
    threads = [threading.Thread(target=serve) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(jobs) / (time.perf_counter() - start)


def proxied_call_us(calls: int) -> float:
    from verifiers.sandbox import Execution, SandboxPool

    pool = SandboxPool(1)
    code = "def add(a, b):\n    return a + b\n"

    def timed(n):
        tests = f"for i in range({n}):\n    assert add(i, 1) == i + 1\n"
        result = pool.run(Execution(code=code, tests=tests))
        assert result.passed, result
        return result.wall_ms

    timed(1)
    one = statistics.median(timed(1) for _ in range(5))
    many = statistics.median(timed(calls) for _ in range(3))
    pool.close()
    return (many - one) * 1000 / (calls - 1)


def wire_roundtrip_us(reps: int = 2000) -> float:
    sys.path.insert(0, str(ROOT / "verifiers" / "sandbox"))
    import wire

    value = {"nums": list(range(20)), "name": "abc", "pair": (1, 2.5), "s": {1, 2}}
    start = time.perf_counter()
    for _ in range(reps):
        wire.decode(json.loads(json.dumps(wire.encode(value))))
    return (time.perf_counter() - start) * 1e6 / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--execs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    import verifiers.sandbox.pool as new_pool

    old_pool = load_old_pool()
    rates: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeats):
        for name, jobs in workloads(args.execs).items():
            for impl, fn in (("v2", lambda j: run_pool(new_pool, j, args.workers)),
                             ("v1", lambda j: run_pool(old_pool, j, args.workers)),
                             ("plain python3", lambda j: run_plain(j, args.workers))):
                rates.setdefault((name, impl), []).append(fn(jobs))
    print(f"executions/s, {args.workers} workers, {args.execs} executions per run, median of {args.repeats} runs")
    print(f"{'workload':<10} {'v2':>9} {'v1':>9} {'python3':>9}   v2/v1   v2/python3")
    for name in ("small", "humaneval", "io"):
        v2, v1, plain = (statistics.median(rates[(name, i)]) for i in ("v2", "v1", "plain python3"))
        print(f"{name:<10} {v2:9.1f} {v1:9.1f} {plain:9.1f}   {v2 / v1:5.2f}x  {v2 / plain:5.2f}x")
    print(f"one proxied call (tests -> candidate -> tests): {proxied_call_us(args.calls):.1f} us "
          f"(a loop of {args.calls} calls against one call, medians)")
    print(f"wire encode+json+decode of a small dict: {wire_roundtrip_us():.1f} us")


if __name__ == "__main__":
    main()
