"""A deterministic fake backend for fast tests (never the default).

`solver = "arithmetic"` answers "What is EXPR?" prompts: even sample indices get the right
value, odd ones a wrong one, so pass rates are known exactly. `solver = "judge"` answers the
LLM judge's prompts by a known rule (answers equal after removing spaces and `$`; a rubric
passes when the response contains the reference), optionally with a position bias. `solver = "steps"`
(`scripted_steps.py`) writes "Step k: a op b = r." solutions with known per-step errors and
continues a partial solution given as a final assistant message (step rollouts). `texts` cycles fixed outputs
(for bad-output tests). Everything depends only on (seed, sample index, prompt).
"""

from __future__ import annotations

import ast
import hashlib
import operator
import re
import time
from dataclasses import dataclass, field
from typing import Any

from factory.errors import ConfigError
from factory.generation.base import (BACKENDS, Completion, Generation, Request, SamplingParams,
                                     clean_text, render_chat)

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _eval(node: ast.AST) -> int:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand)
    raise ValueError("unsupported expression")


@dataclass
class ScriptedOptions:
    solver: str = "arithmetic"
    texts: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    judge_position_bias: bool = False  # judge solver: says SAME whenever answer 2 is the longer one
    fail_every: int = 0  # > 0: problems whose prompt hash % fail_every == 0 get only wrong answers (unhinted)
    step_error_rate: float = 0.0  # steps solver: chance that each operation step of a fresh sample is wrong
    rollout_error_rate: float | None = None  # steps solver, continuations: the same chance (None: step_error_rate)
    pass_rates: list[float] = field(default_factory=list)  # rate solver: per-problem pass rates (by prompt hash)
    variants: int = 4  # rate solver: phrasings, so at most this many distinct right answers per problem

    def __post_init__(self) -> None:
        for name in ("step_error_rate", "rollout_error_rate"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"generation.options.{name}: must be in [0, 1]")


class ScriptedBackend:
    name = "scripted"

    def __init__(self, model: str = "scripted", options: ScriptedOptions | None = None) -> None:
        self.model_id = model
        self.options = options or ScriptedOptions()

    def _answer(self, prompt: str, sample_idx: int, seed: int, prefix: str | None = None) -> str:
        if self.options.solver == "synth":  # writes and answers problems for synthesis tests (scripted_synth.py)
            from factory.generation.scripted_synth import synth_answer

            return synth_answer(prompt, sample_idx, seed)
        if self.options.solver == "steps":
            from factory.generation.scripted_steps import solve_steps

            rate = self.options.step_error_rate
            if prefix and self.options.rollout_error_rate is not None:
                rate = self.options.rollout_error_rate
            return solve_steps(prompt, prefix or "", sample_idx, seed, rate)
        if self.options.solver == "rate":
            from factory.generation.scripted_rates import solve_with_rate

            return solve_with_rate(prompt, sample_idx, seed, self.options.pass_rates, self.options.variants)
        if self.options.texts:
            key = int(hashlib.sha256(f"{seed}:{prompt}".encode()).hexdigest()[:8], 16)
            return self.options.texts[(key + sample_idx) % len(self.options.texts)]
        if self.options.solver == "judge":
            return self._judge(prompt)
        m = re.search(r"What is ([-+*\d ]+)\?", prompt)
        if not m:
            return "I am not sure how to solve this."
        hint = re.search(r"correct final answer is (-?\d+)", prompt)
        if hint:  # rationalization: odd samples give the hint away, which selection must reject
            leak = "The hint says the answer is so. " if sample_idx % 2 else ""
            return f"{leak}Working out {m.group(1).strip()} carefully.\nIt equals {hint.group(1)}.\n\\boxed{{{hint.group(1)}}}"
        value = _eval(ast.parse(m.group(1).strip(), mode="eval"))
        hard = self.options.fail_every and int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % self.options.fail_every == 0
        if sample_idx % 2 or hard:
            value += 1
        return f"Let me compute {m.group(1).strip()} step by step.\nThe result is {value}.\n\\boxed{{{value}}}"

    def _judge(self, prompt: str) -> str:
        nonce = re.search(r"<verdict-([0-9a-f]+)>", prompt)
        tag = nonce.group(1) if nonce else "none"
        pair = re.search(r"^Answer 1: (.*)$\n^Answer 2: (.*)$", prompt, re.M)
        if pair:
            first, second = (re.sub(r"[\s$]", "", x).lower() for x in pair.groups())
            same = first == second or (self.options.judge_position_bias and len(second) > len(first))
            word = "SAME" if same else "DIFFERENT"
        else:
            rubric = re.search(r"Rubric / reference answer:\n(.*?)\n\nResponse", prompt, re.S)
            response = re.search(r"<<<response-[0-9a-f]+\n(.*)\nresponse-[0-9a-f]+>>>", prompt, re.S)
            found = rubric and response and rubric.group(1).strip().lower() in response.group(1).lower()
            word = "PASS" if found else "FAIL"
        return f"<verdict-{tag}>{word}</verdict-{tag}>"

    def generate(self, requests: list[Request], params: SamplingParams) -> list[Generation]:
        out = []
        for req in requests:
            start = time.perf_counter()
            prompt = render_chat(req.messages)
            # A final assistant message is a partial solution to continue (step rollouts).
            prefix = req.messages[-1]["content"] if req.messages[-1]["role"] == "assistant" else None
            user = next(m["content"] for m in reversed(req.messages) if m["role"] == "user")
            completions = []
            for i in range(params.n):
                text = clean_text(self._answer(user, i, req.seed, prefix))
                words = text.split()
                if len(words) > params.max_tokens:
                    text, reason = " ".join(words[: params.max_tokens]), "length"
                else:
                    reason = "stop"
                completions.append(Completion(text, reason, min(len(words), params.max_tokens)))
            if self.options.delay_s:
                time.sleep(self.options.delay_s)
            out.append(Generation(prompt, len(prompt.split()), completions, time.perf_counter() - start))
        return out

    def close(self) -> None:
        pass


@BACKENDS.register("scripted")
def make_scripted(model: str, options: dict[str, Any], base_dir: str = ".") -> ScriptedBackend:
    from factory.config import build

    return ScriptedBackend(model, build(ScriptedOptions, options, "generation.options"))
