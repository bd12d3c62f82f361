"""The factory's generation path vs calling the bare vLLM engine on the same prompts.

Both sides share one `LLM` instance and use the same per-request seeds, so they generate the
same tokens; the factory side adds chat rendering, Candidate records and verification-ready
bookkeeping (GenerateStep). Runs alternate; medians of --repeats runs are reported.

    .venv/bin/python benchmarks/bench_generate.py [--model embedded] [--problems 16] [--n 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="embedded", help="'embedded', a model folder or a .gguf")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from factory.config import SourceSection
    from factory.generation import BACKENDS, SamplingParams
    from factory.sources import load_problems
    from pipelines.steps import GenerateStep, request_seed

    backend = BACKENDS.get("vllm")(args.model, {"kv_cache_gib": 2})
    import vllm

    problems = load_problems([SourceSection("procedural_math", {"count": args.problems})], ".", 0)
    params = SamplingParams(n=args.n, temperature=0.7, max_tokens=args.max_tokens)
    step = GenerateStep(backend, params, "Solve the problem.", [], "bench", 0, 0, batch_size=len(problems))
    prompts = [backend.render(step.messages(p)) for p in problems]
    bare_params = [vllm.SamplingParams(n=args.n, temperature=0.7, top_p=params.top_p, max_tokens=args.max_tokens,
                                       seed=request_seed(0, p.problem_id)) for p in problems]
    backend.llm.generate(prompts[:2], bare_params[:2], use_tqdm=False)  # warm-up
    bare, ours, tokens = [], [], 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        outs = backend.llm.generate(prompts, bare_params, use_tqdm=False)
        bare.append(time.perf_counter() - t0)
        tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
        t0 = time.perf_counter()
        sampled = list(step.run(problems))
        ours.append(time.perf_counter() - t0)
        ours_tokens = sum(c.completion_tokens for _, cands in sampled for c in cands)
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"model: {backend.model_id}   prompts: {len(problems)} x n={args.n}   max_tokens: {args.max_tokens}")
    print(f"bare vLLM LLM.generate:   median {b:7.2f} s   {tokens / b:7.1f} tok/s   ({tokens} tokens)")
    print(f"factory GenerateStep:     median {o:7.2f} s   {ours_tokens / o:7.1f} tok/s   ({ours_tokens} tokens)")
    print(f"wall-time ratio factory/bare: {o / b:.3f}   (goal <= 1.05)   runs: {args.repeats}")


if __name__ == "__main__":
    main()
