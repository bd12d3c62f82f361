"""Procedural math problems with exact reference answers, seeded per item.

Kinds: arithmetic, linear_equation, fraction, word_problem, percent. Difficulty 1–3 scales the
number sizes and the number of steps. Level 1 is meant to be within reach of a 135M model.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterator

from factory.errors import ConfigError
from factory.sources.base import SOURCES, Source, item_rng
from schemas import Problem

Generator = Callable[[random.Random, int], tuple[str, str]]
KINDS: dict[str, Generator] = {}


def kind(name: str) -> Callable[[Generator], Generator]:
    def add(fn: Generator) -> Generator:
        KINDS[name] = fn
        return fn

    return add


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@kind("arithmetic")
def arithmetic(rng: random.Random, difficulty: int) -> tuple[str, str]:
    high = (10, 100, 1000)[difficulty - 1]
    terms = [rng.randint(1, high) for _ in range(difficulty + 1)]
    ops = [rng.choice("+-*" if difficulty > 1 else "+-") for _ in terms[1:]]
    expr = str(terms[0]) + "".join(f" {op} {t}" for op, t in zip(ops, terms[1:]))
    value = eval(expr, {"__builtins__": {}})  # our own digits and operators only
    return f"What is {expr}?", str(value)


@kind("linear_equation")
def linear_equation(rng: random.Random, difficulty: int) -> tuple[str, str]:
    high = (5, 12, 30)[difficulty - 1]
    x = rng.randint(-high, high)
    a = rng.choice([v for v in range(-high, high + 1) if v not in (0,)]) if difficulty > 1 else rng.randint(2, high)
    b = rng.randint(-high * 2, high * 2)
    c = a * x + b
    b_text = f"+ {b}" if b >= 0 else f"- {-b}"
    return f"Solve for x: {a}x {b_text} = {c}", str(x)


@kind("fraction")
def fraction(rng: random.Random, difficulty: int) -> tuple[str, str]:
    high = (6, 12, 20)[difficulty - 1]
    left = Fraction(rng.randint(1, high), rng.randint(2, high))
    right = Fraction(rng.randint(1, high), rng.randint(2, high))
    op = rng.choice("+-" if difficulty == 1 else "+-*")
    value = {"+": left + right, "-": left - right, "*": left * right}[op]
    return (f"Compute {left.numerator}/{left.denominator} {op} {right.numerator}/{right.denominator}. "
            "Give the answer as a fraction in lowest terms.", _fraction_text(value))


NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jae", "Kofi", "Lena"]
ITEMS = ["apples", "marbles", "stickers", "books", "pencils", "coins", "shells", "cards"]


@kind("word_problem")
def word_problem(rng: random.Random, difficulty: int) -> tuple[str, str]:
    high = (10, 40, 200)[difficulty - 1]
    name, friend = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    start, got = rng.randint(2, high), rng.randint(1, high)
    text = f"{name} has {start} {item}. {friend} gives {name} {got} more {item}."
    total = start + got
    if difficulty >= 2:
        lost = rng.randint(1, total)
        text += f" Then {name} gives away {lost} {item}."
        total -= lost
    if difficulty >= 3:
        times = rng.randint(2, 5)
        text += f" Finally {name}'s collection grows to {times} times its size."
        total *= times
    return text + f" How many {item} does {name} have now?", str(total)


@kind("percent")
def percent(rng: random.Random, difficulty: int) -> tuple[str, str]:
    pct = rng.choice((10, 20, 25, 50) if difficulty == 1 else (5, 15, 30, 40, 60, 75, 12))
    base = rng.randint(1, (10, 40, 200)[difficulty - 1]) * 20
    value = Fraction(pct * base, 100)
    return f"What is {pct}% of {base}?", _fraction_text(value)


MAX_COUNT = 10_000_000


@dataclass
class ProceduralOptions:
    count: int = 20
    kinds: list[str] = field(default_factory=lambda: sorted(KINDS))
    difficulty: int = 1

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ConfigError(f"procedural_math: unknown kind {unknown[0]!r} (known: {', '.join(sorted(KINDS))})")
        if self.difficulty not in (1, 2, 3):
            raise ConfigError("procedural_math: difficulty must be 1, 2 or 3")
        if not 0 <= self.count <= MAX_COUNT:
            # Problems are held in memory while a run is planned: 10**10 ran for 40 minutes
            # before failing. Larger sets belong in files (the jsonl/parquet sources).
            raise ConfigError(f"procedural_math: count must be between 0 and {MAX_COUNT:,} (got {self.count:,})")


@SOURCES.register("procedural_math")
class ProceduralMath(Source):
    """Seeded arithmetic, linear equations, fractions, percents and word problems."""

    Options = ProceduralOptions
    description = "procedural math: " + ", ".join(sorted(KINDS)) + " (difficulty 1-3)"

    def problems(self) -> Iterator[Problem]:
        opts = self.options
        for idx in range(opts.count):
            name = opts.kinds[idx % len(opts.kinds)]
            rng = item_rng(self.seed, "procedural_math", name, opts.difficulty, idx)
            prompt, answer = KINDS[name](rng, opts.difficulty)
            meta = {"kind": name, "difficulty": opts.difficulty, "seed": self.seed, "index": idx}
            yield Problem(domain="math", prompt=prompt, reference=answer, source="procedural_math",
                          metadata=json.dumps(meta, sort_keys=True))
