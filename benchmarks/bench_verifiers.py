"""Verifier throughput: ours vs plain math-verify on the same (reference, candidate) pairs,
their agreement, and sandbox executions/s at 1 and 2 workers. Medians of --repeats runs.

    .venv/bin/python benchmarks/bench_verifiers.py [--pairs 1500] [--execs 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILLER = ("First, let us restate the problem. We need to be careful with each step. "
          "Multiplying both sides and simplifying gives the next expression. ")
EXPRESSIONS = [("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt{3}}{2}"), ("2\\sqrt{2}", "\\sqrt{8}"), ("\\pi", "\\pi"),
               ("3\\pi", "\\pi \\cdot 3"), ("x^2+2x+1", "(x+1)^2"), ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
               ("(1,2)", "(1, 2)"), ("[0,1)", "[0,1)"), ("\\{1,2\\}", "\\{2,1\\}"), ("e^{2}", "e^2"),
               ("2x-3", "-3+2x"), ("\\sqrt{5}", "\\sqrt{5}"), ("10\\%", "10"), ("\\frac{3}{4}", "0.75")]


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """A mix like real model outputs: mostly numeric finals in long chains of thought."""
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        cot = FILLER * rng.randint(2, 8) + f"(step {i}) "
        roll = rng.random()
        if roll < 0.55:
            ref = str(rng.randint(-50, 5000))
            ans = ref if rng.random() < 0.5 else str(int(ref) + rng.choice([-1, 1, 10]))
            tail = rng.choice([f"The answer is $\\boxed{{{ans}}}$.", f"#### {ans}", f"**Answer:** {ans}",
                               f"So the final answer is \\boxed{{{ans}}}"])
        elif roll < 0.70:
            a, b = rng.randint(1, 30), rng.randint(2, 30)
            ref = f"\\frac{{{a}}}{{{b}}}"
            ans = rng.choice([f"\\frac{{{a * 2}}}{{{b * 2}}}", f"{a}/{b}", f"\\dfrac{{{a}}}{{{b + 1}}}", str(round(a / b, 3))])
            tail = f"Therefore $\\boxed{{{ans}}}$."
        elif roll < 0.90:
            k = rng.randint(2, 40)
            ref, ans = rng.choice(EXPRESSIONS + [
                (f"{k}\\sqrt{{2}}", f"\\sqrt{{{2 * k * k}}}"), (f"\\frac{{{k}\\pi}}{{3}}", f"{k}\\pi/3"),
                (f"x^2+{2 * k}x+{k * k}", f"(x+{k})^2"), (f"({k},{k + 1})", f"({k}, {k + 1})"),
                (f"{k}x-3", f"-3+{k}x"), (f"\\frac{{\\sqrt{{{k}}}}}{{2}}", f"\\sqrt{{{k}}}/2")])
            if rng.random() < 0.3:
                ans = ans + "+1"
            tail = f"Hence the result is \\boxed{{{ans}}}."
        else:
            ref = str(rng.randint(1, 99))
            tail = rng.choice(["I am not sure how to finish.", f"\\boxed{{{ref}}} or \\boxed{{{int(ref) + 1}}}",
                               "The answer is \\boxed{"])
        pairs.append((ref, cot + tail + f" [{i}]" * 0))
    return pairs


def bench_ours(pairs) -> tuple[float, list[bool]]:
    from schemas import Problem
    from verifiers.math import MathVerifier

    v = MathVerifier(timeout_s=5.0)
    v.verify(Problem(domain="math", prompt="", reference="x", source="b"), "\\boxed{x+0}")  # start the worker
    problems = [Problem(domain="math", prompt="", reference=r, source="b") for r, _ in pairs]
    start = time.perf_counter()
    verdicts = [v.verify(p, text).passed for p, (_, text) in zip(problems, pairs)]
    elapsed = time.perf_counter() - start
    v.close()
    return len(pairs) / elapsed, verdicts


def bench_math_verify(pairs) -> tuple[float, list[bool]]:
    from math_verify import parse, verify

    start = time.perf_counter()
    verdicts = []
    for ref, text in pairs:
        try:
            verdicts.append(bool(verify(parse(f"${ref}$"), parse(text))))
        except BaseException:  # its own SIGALRM timeout or a parser crash counts as "not equal"
            verdicts.append(False)
    elapsed = time.perf_counter() - start
    return len(pairs) / elapsed, verdicts


def table_accuracy() -> tuple[int, int, int]:
    """(ours right, math-verify right, cases) on the test suite's graded case table."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "verifiers"))
    from test_math import CASES

    pairs = [(ref, text) for ref, text, _, _ in CASES]
    expected = [exp for _, _, exp, _ in CASES]
    _, ours = bench_ours(pairs)
    _, theirs = bench_math_verify(pairs)
    return (sum(a == e for a, e in zip(ours, expected)), sum(b == e for b, e in zip(theirs, expected)), len(CASES))


def bench_sandbox(workers: int, n: int) -> float:
    from verifiers.sandbox import Execution, SandboxPool

    pool = SandboxPool(workers)
    code = "def add(a, b):\n    return a + b\n"
    jobs = [Execution(code=code, tests=f"assert add({i}, 1) == {i + 1}") for i in range(n)]
    pool.run_batch(jobs[: workers * 2])  # start the fork servers
    start = time.perf_counter()
    results = pool.run_batch(jobs)
    elapsed = time.perf_counter() - start
    pool.close()
    assert all(r.passed for r in results), [r for r in results if not r.passed][:1]
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=1500)
    parser.add_argument("--execs", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    ours, theirs, agree = [], [], []
    for rep in range(args.repeats):
        pairs = make_pairs(args.pairs, seed=rep)  # fresh pairs each run: no warm cache
        rate_o, v_o = bench_ours(pairs)
        rate_t, v_t = bench_math_verify(pairs)
        ours.append(rate_o)
        theirs.append(rate_t)
        agree.append(sum(a == b for a, b in zip(v_o, v_t)) / len(pairs))
        if rep == 0:
            disagreements = [(p[0], p[1][-60:], a, b) for p, a, b in zip(pairs, v_o, v_t) if a != b][:8]
    print(f"math pairs per run: {args.pairs}   runs: {args.repeats}")
    print(f"ours (one process + sympy worker): median {statistics.median(ours):8.1f} verifications/s")
    print(f"plain math-verify:                 median {statistics.median(theirs):8.1f} verifications/s")
    print(f"speed ratio ours/math-verify:      {statistics.median(ours) / statistics.median(theirs):.2f}x")
    print(f"verdict agreement with math-verify: median {statistics.median(agree) * 100:.1f}%")
    for ref, tail, a, b in disagreements:
        print(f"   disagree: ref={ref!r} ours={a} math-verify={b} tail={tail!r}")
    right_ours, right_theirs, total = table_accuracy()
    print(f"graded case table ({total} cases): ours {right_ours}/{total} right, math-verify {right_theirs}/{total}")
    for workers in (1, 2):
        rates = [bench_sandbox(workers, args.execs) for _ in range(args.repeats)]
        print(f"sandbox, {workers} worker(s): median {statistics.median(rates):7.1f} isolated executions/s "
              f"(runs: {', '.join(f'{r:.0f}' for r in rates)})")


if __name__ == "__main__":
    main()
