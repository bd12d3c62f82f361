"""Code labels by dual agreement (#14): seconds per problem of `pipelines.code_labels.code_label`
with the scripted `synth` solver's code problems (4 solutions, 3 of them distinct programs; 4
asserts: 12 sandbox executions a problem, identical programs run once). What is measured is the
sandbox and our bookkeeping: extraction, the executions, consensus sets. Medians of --repeats,
after one warm-up problem (the pool's fork servers start on first use).

    .venv/bin/python benchmarks/bench_code_labels.py [--problems 20] [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from factory.generation.scripted_synth import synth_answer, write
from pipelines.code_labels import code_label
from verifiers.code import CodeVerifier


def label_all(problems: list[str], verifier: CodeVerifier) -> int:
    kept = 0
    for p in problems:
        outcome = code_label([synth_answer(p, i, 3) for i in range(4)], [synth_answer("Write tests\n" + p, 0, 3)],
                             verifier, max_tests=10, min_score=4, min_share=0.5)
        kept += outcome.reference is not None
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    problems = [write(f"Write a new code problem.\nTopic: t{i}\nPersona: Ann\nDifficulty: easy", 0, 3)
                for i in range(args.problems)]
    verifier = CodeVerifier(timeout_s=5, workers=args.workers)
    try:
        label_all(problems[:1], verifier)
        times, kept = [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            kept = label_all(problems, verifier)
            times.append(time.perf_counter() - start)
    finally:
        verifier.close()
    per = statistics.median(times) / args.problems
    print(json.dumps({"problems": args.problems, "kept": kept, "executions_per_problem": 12, "workers": args.workers,
                      "s_per_problem_median": round(per, 4), "executions_per_s": round(12 / per, 1),
                      "runs_s": [round(t, 3) for t in times]}))


if __name__ == "__main__":
    main()
