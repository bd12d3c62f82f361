"""The scripted backend's `rate` solver: "What is EXPR?" answered correctly with a known
per-problem probability, in one of `variants` phrasings of different lengths, so a benchmark
knows each problem's pass rate and how many distinct verified solutions it can yield.

A problem's rate is `pass_rates[hash(prompt) % len(pass_rates)]`; a sample is right when a hash
of (seed, prompt, sample index) falls below it. Rounds of adaptive sampling use different seeds,
so their samples are fresh draws."""

from __future__ import annotations

import hashlib
import re


def _unit(*parts: object) -> float:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 0x100000000


def problem_rate(prompt: str, pass_rates: list[float]) -> float:
    return pass_rates[int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % len(pass_rates)]


def solve_with_rate(prompt: str, sample_idx: int, seed: int, pass_rates: list[float], variants: int) -> str:
    m = re.search(r"What is ([-+*\d ]+)\?", prompt)
    if not m or not pass_rates:
        return "I am not sure how to solve this."
    expr = m.group(1).strip()
    value = eval(expr, {"__builtins__": {}})  # digits and + - * only (the regex above)
    right = _unit(seed, prompt, sample_idx) < problem_rate(prompt, pass_rates)
    variant = int(_unit("variant", seed, prompt, sample_idx) * max(1, variants))
    answer = value if right else value + 1 + variant
    working = " ".join(["Let me check that again."] * variant)
    return f"Approach {variant}: compute {expr} term by term. {working}\nThe result is {answer}.\n\\boxed{{{answer}}}"
