"""The scripted backend's `steps` solver: "What is EXPR?" solved one operation per step, with
errors whose positions are known, so step labels from rollouts can be checked exactly.

    Step 1: We evaluate 3 + 4 * 5 one operation at a time.

    Step 2: 4 * 5 = 20.

    Step 3: 3 + 20 = 23.

    Step 4: The answer is \\boxed{23}.

Each operation step is wrong (its result off by one) with probability `rate`, decided by a hash
of (seed, prompt, sample, step, prefix length). A solution makes at most one error (a second
could cancel the first: a - (x + 1) + 1), and a wrong result is carried into later steps, so the
final answer is wrong exactly when some step is. Given a prefix, the solver continues from the
results the prefix states, right or wrong."""

from __future__ import annotations

import ast
import hashlib
import operator
import re

_OPS = {ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul)}
_STATED = re.compile(r"Step \d+: -?\d+ [-+*] -?\d+ = (-?\d+)\.")

Ref = tuple[str, int]  # ("const", value) or ("op", index of an earlier operation)


def operations(expr: str) -> list[tuple[Ref, str, Ref]]:
    """The expression's operations in evaluation (post-)order."""
    ops: list[tuple[Ref, str, Ref]] = []

    def visit(node: ast.AST) -> Ref:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return ("const", node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return ("const", -node.operand.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = visit(node.left), visit(node.right)
            ops.append((left, _OPS[type(node.op)][0], right))
            return ("op", len(ops) - 1)
        raise ValueError("unsupported expression")

    visit(ast.parse(expr, mode="eval").body)
    return ops


def _wrong(seed: int, prompt: str, sample_idx: int, step: int, prefix_len: int, rate: float) -> bool:
    key = hashlib.sha256(f"{seed}:{prompt}:{sample_idx}:{step}:{prefix_len}".encode()).hexdigest()[:8]
    return int(key, 16) / 0xFFFFFFFF < rate


def solve_steps(prompt: str, prefix: str, sample_idx: int, seed: int, rate: float) -> str:
    """A whole solution (no prefix) or the continuation of `prefix` (without the prefix)."""
    m = re.search(r"What is ([-+*\d ]+)\?", prompt)
    if not m:
        return "I am not sure how to solve this."
    expr = m.group(1).strip()
    ops = operations(expr)
    if "\\boxed" in prefix:
        return ""
    results = [int(v) for v in _STATED.findall(prefix)][: len(ops)]
    steps = [] if prefix.strip() else [f"Step 1: We evaluate {expr} one operation at a time."]
    apply = {sym: fn for sym, fn in _OPS.values()}
    value = lambda ref: ref[1] if ref[0] == "const" else results[ref[1]]  # noqa: E731
    erred = first_error(prompt, prefix) is not None
    for j in range(len(results), len(ops)):
        left, sym, right = ops[j]
        a, b = value(left), value(right)
        wrong = not erred and _wrong(seed, prompt, sample_idx, j, len(prefix), rate)
        erred = erred or wrong
        results.append(apply[sym](a, b) + wrong)
        steps.append(f"Step {j + 2}: {a} {sym} {b} = {results[-1]}.")
    answer = results[-1] if results else int(expr)
    steps.append(f"Step {len(ops) + 2}: The answer is \\boxed{{{answer}}}.")
    text = "\n\n".join(steps)
    if prefix and not prefix[-1].isspace():
        text = "\n\n" + text
    return text


def first_error(prompt: str, text: str) -> int | None:
    """Index (0-based, in steps of the text) of the first wrong operation step; None if none."""
    expr = re.search(r"What is ([-+*\d ]+)\?", prompt).group(1).strip()
    ops = operations(expr)
    stated = [int(v) for v in _STATED.findall(text)]
    truth: list[int] = []
    apply = {sym: fn for sym, fn in _OPS.values()}
    for j, (left, sym, right) in enumerate(ops):
        a = left[1] if left[0] == "const" else truth[left[1]]
        b = right[1] if right[0] == "const" else truth[right[1]]
        truth.append(apply[sym](a, b))
        if j < len(stated) and stated[j] != truth[j]:
            return j + 1  # step 0 is the introduction
    return None
