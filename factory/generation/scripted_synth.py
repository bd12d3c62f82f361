"""The scripted backend's `synth` solver: writes and answers arithmetic problems deterministically,
so every synthesis, label and filter rule has a test with a known outcome.

A prompt that starts with "Write a new" is a writing request; anything else is a problem to solve.

Writing (output starts with "Problem:", like the configured templates ask):
- grid (lines `Topic:`, `Persona:`, `Difficulty:`): "{persona} counts {topic}: there are a and
  then b more. What is a + b?", a and b from a hash of (topic, difficulty, sample): cells that
  differ only by persona are near duplicates. Topics that trigger filters: `nothing` (no
  question), `twice` (two questions), `tiny` (too short), `essay` (too long), `ambiguous` (answers
  never agree),
  `leak` (an answer line after the problem, which parsing must cut).
- from a parent "What is EXPR?" (seed and evol): by keyword in the prompt, `harder` →
  "What is (EXPR) * k?", `constraint` → the parent plus "Give the answer as a whole number.",
  `rephrase` → "Compute the value of the expression EXPR.",
  `combine` → "What is (E1) + (E2)?" with the second problem, otherwise (seed, change the numbers)
  the parent's operators with new numbers.

Code (a writing request whose first line says "code"): a grid cell writes "{persona} needs a
Python function `TOPIC(x)` ... returns EXPR ...". Its solutions (`solve_code`): samples 0 and 2
the same correct program, 1 a differently written correct one, 3 a wrong one (EXPR + 1). A test
request ("Write tests...") gets asserts (`write_tests`): two right ones, one that only the wrong
solution passes (dropped: outside_consensus), one that nobody passes (dropped: passed_by_none).
Topics change that: `lonely` (only sample 0 writes code; four right asserts: consensus score 4,
share 1/4), `untested` (the test writer writes no assert), `split` (samples 2 and 3 are the same
wrong program: two solutions each side, three right asserts and one the wrong side passes).

Solving "What is EXPR?" / "Compute ... EXPR.": samples 0 and 2 give the value, 1 gives it as a
decimal (`v.0`, the same answer to the math verifier), 3 gives v + 1: majority 3/4 only through
the verifier's equivalence. A problem that mentions "ambiguous" gets a different answer per sample.
"""

from __future__ import annotations

import ast
import hashlib
import re

_PARENT = re.compile(r"What is ([-+*\d ()]+)\?")
_COMPUTE = re.compile(r"(?:What is|expression) ([-+*\d ()]+)[?.]")


def _h(*parts: object) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


def _value(expr: str) -> int:
    from factory.generation.scripted import _eval

    return _eval(ast.parse(expr.strip(), mode="eval"))


_FUNCTION = re.compile(r"Python function `(\w+)\(x\)`.*? returns (.+?) for an integer x", re.S)


def synth_answer(prompt: str, sample_idx: int, seed: int) -> str:
    lower = prompt.lower()
    if lower.startswith("write a new"):
        return "Problem: " + write(prompt, sample_idx, seed)
    if lower.startswith("write tests"):
        return write_tests(prompt)
    if _FUNCTION.search(prompt):
        return solve_code(prompt, sample_idx)
    return solve(prompt, sample_idx)


def write(prompt: str, idx: int, seed: int) -> str:
    cell = dict(re.findall(r"^(Topic|Persona|Difficulty): *(.+)$", prompt, re.MULTILINE))
    if "Topic" in cell and "code" in prompt.splitlines()[0].lower():
        return _code_grid(cell["Topic"].strip(), cell.get("Persona", "Someone").strip(), cell.get("Difficulty", ""), idx)
    if "Topic" in cell:
        return _grid(cell["Topic"].strip(), cell.get("Persona", "Someone").strip(), cell.get("Difficulty", ""), idx)
    parents = _PARENT.findall(prompt)
    if not parents:
        return "I could not find a problem to start from."
    expr, lower = parents[0].strip(), prompt.lower()
    if "harder" in lower:
        return f"What is ({expr}) * {2 + _h(expr, idx, seed) % 8}?"
    if "constraint" in lower:
        return f"What is {expr}? Give the answer as a whole number."
    if "rephrase" in lower:
        return f"Compute the value of the expression {expr}."
    if "combine" in lower and len(parents) > 1:
        return f"What is ({expr}) + ({parents[1].strip()})?"
    numbers = iter(str(1 + _h(expr, i, idx, seed) % 97) for i in range(64))
    return "What is " + re.sub(r"\d+", lambda _: next(numbers), expr) + "?"


def _grid(topic: str, persona: str, difficulty: str, idx: int) -> str:
    a, b = 2 + _h(topic, difficulty, idx) % 90, 1 + _h(difficulty, topic, idx) % 50  # not persona: near duplicates
    base = f"{persona} counts {topic}: there are {a} and then {b} more."
    if topic == "nothing":
        return "I could not think of a problem today."
    if topic == "tiny":
        return "Why?"
    if topic == "twice":
        return f"{base} What is {a} + {b}? What is {a} + {b} + 1?"
    if topic == "essay":
        return f"{base} " + "It was a long day. " * 60 + f"What is {a} + {b}?"
    if topic == "leak":
        return f"{base} What is {a} + {b}?\nAnswer: {a + b}"
    return f"{base} What is {a} + {b}?"


def _code_grid(topic: str, persona: str, difficulty: str, idx: int) -> str:
    a, b = 2 + _h(topic, difficulty, idx) % 9, 1 + _h(difficulty, topic, idx) % 20
    return (f"{persona} keeps a notebook about {topic} and needs a Python function `{topic}(x)`; "
            f"it returns x * {a} + {b} for an integer x. Write it.")


def _program(name: str, expr: str, style: int) -> str:
    body = f"    return {expr}\n" if style == 0 else f"    value = {expr}\n    return value\n"
    return f"Here is my solution.\n```python\ndef {name}(x):\n{body}```"


def solve_code(problem: str, idx: int) -> str:
    name, expr = _FUNCTION.search(problem).groups()
    if name == "lonely" and idx:
        return "I am not sure how to write this."
    wrong = idx % 4 == 3 or (name == "split" and idx % 4 == 2)
    return _program(name, f"({expr}) + 1" if wrong else expr, 0 if wrong else idx % 2)


def write_tests(prompt: str) -> str:
    m = _FUNCTION.search(prompt)
    if not m or m.group(1) == "untested":
        return "Tests are not needed: the function is simple."
    name, expr = m.groups()

    def value(x: int) -> int:
        return _value(expr.replace("x", str(x)))

    if name == "lonely":
        lines = [f"assert {name}({x}) == {value(x)}" for x in (1, 2, 3, 4)]
    elif name == "split":
        lines = [f"assert {name}({x}) == {value(x)}" for x in (1, 2, 3)] + [f"assert {name}(4) == {value(4) + 1}"]
    else:
        lines = [f"assert {name}(1) == {value(1)}", f"assert {name}(2) == {value(2)}",
                 f"assert {name}(3) == {value(3) + 1}", f"assert {name}(4) == {value(4) + 7}"]
    return "```python\n" + "\n".join(lines) + "\n```"


def solve(problem: str, idx: int) -> str:
    m = _COMPUTE.search(problem)
    if not m:
        return "I am not sure how to solve this."
    value = _value(m.group(1))
    if "ambiguous" in problem.lower():
        value += idx
    elif idx % 4 == 3:
        value += 1
    shown = f"{value}.0" if idx % 4 == 1 else str(value)
    return f"Working it out: {m.group(1).strip()}.\nThe result is {shown}.\n\\boxed{{{shown}}}"
