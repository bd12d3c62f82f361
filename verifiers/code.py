"""Code answers: extract the program from the completion and run it against the problem's
tests in the sandbox (verifiers/sandbox), fresh isolated processes per test case.

Tests (Problem.tests, JSON) are a list of specs, or one spec:
  {"type": "assert", "code": "assert f(2) == 4"}   run in a separate test process, against
                                                   proxies of the program's module-level names
  {"type": "io", "cases": [{"input": "1 2", "output": "3"}]}   stdin in, stdout compared on the host
`score` is the fraction of test cases passed; the verdict reason is the first failure's.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from schemas import Problem
from verifiers.base import VERIFIERS, Outcome
from verifiers.sandbox import Execution, Limits, SandboxPool

VERSION = "2.0"
MAX_CODE_CHARS = 100_000
MAX_TEXT_CHARS = 400_000  # checked before any regex, parse or compile of the candidate
_PYTHON_LANGS = ("python", "py", "python3", "py3")
_DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.M)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, line by line (no backtracking regex over the
    text): an opening fence is a line of 3+ backticks and an optional info string, possibly
    indented (a block inside a list); it closes at a line of at least as many backticks and
    nothing else; an unclosed last block runs to the end (a stop sequence ate the fence).
    Bodies are dedented; CRLF line ends are normalised."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks, i = [], 0
    while i < len(lines):
        stripped = lines[i].lstrip(" \t")
        ticks = len(stripped) - len(stripped.lstrip("`"))
        info = stripped[ticks:].strip()
        if ticks >= 3 and "`" not in info:
            lang = info.split()[0].lower() if info else ""
            body, i = [], i + 1
            while i < len(lines):
                candidate = lines[i].strip(" \t")
                if len(candidate) >= ticks and set(candidate) == {"`"}:
                    break
                body.append(lines[i])
                i += 1
            blocks.append((lang, textwrap.dedent("\n".join(body)) + "\n"))
        i += 1
    return blocks


def extract_code(text: str, needed: frozenset[str] = frozenset()) -> str | None:
    """The program in a completion: among the Python blocks (else the unlabelled ones), the
    last that defines a name the tests use, else the last that defines anything, else the
    last; without fences, the text itself if it compiles."""
    blocks = fenced_blocks(text)
    for langs in (_PYTHON_LANGS, ("",)):
        chosen = [body for lang, body in blocks if lang in langs]
        if chosen:
            defined = [(body, {m.group(1) or m.group(2) for m in _DEFINES.finditer(body)}) for body in chosen]
            for wanted in (lambda names: names & needed, lambda names: names):
                matching = [body for body, names in defined if wanted(names)]
                if matching:
                    return matching[-1]
            return chosen[-1]
    if blocks:
        return None  # only blocks in other languages
    if len(text) > MAX_CODE_CHARS:
        return None
    try:
        compile(text, "<candidate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return text


@dataclass
class _Case:
    mode: str
    tests: str = ""
    stdin: str = ""
    expected: str | None = None


def parse_tests(raw: Any) -> list[_Case]:
    """Problem.tests → test cases; ValueError with a reason when malformed."""
    if isinstance(raw, str):
        raw = json.loads(raw)
    specs = raw if isinstance(raw, list) else [raw]
    cases: list[_Case] = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or spec.get("type") not in ("assert", "io"):
            raise ValueError(f"test {i}: needs type 'assert' or 'io'")
        if spec["type"] == "assert":
            if not isinstance(spec.get("code"), str) or not spec["code"].strip():
                raise ValueError(f"test {i}: assert test needs non-empty 'code'")
            cases.append(_Case("assert", tests=spec["code"]))
            continue
        io_cases = spec.get("cases")
        if not isinstance(io_cases, list) or not io_cases:
            raise ValueError(f"test {i}: io test needs a non-empty 'cases' list")
        for j, case in enumerate(io_cases):
            if not isinstance(case, dict) or not isinstance(case.get("output"), str):
                raise ValueError(f"test {i} case {j}: needs string 'input' and 'output'")
            cases.append(_Case("io", stdin=str(case.get("input", "")), expected=case["output"]))
    if not cases:
        raise ValueError("no test cases")
    return cases


def _names_in_tests(cases: list[_Case]) -> frozenset[str]:
    """The names assert tests use: they pick the block that defines the program among several."""
    names: set[str] = set()
    for case in cases:
        if case.mode == "assert":
            try:
                names.update(n.id for n in ast.walk(ast.parse(case.tests)) if isinstance(n, ast.Name))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                pass  # the test process reports malformed tests
    return frozenset(names)


class CodeVerifier:
    name = "code"
    version = VERSION

    def __init__(self, timeout_s: float = 5.0, workers: int | None = None, memory_mb: int = 512) -> None:
        self.limits = Limits(wall_s=timeout_s, cpu_s=max(1.0, timeout_s - 1), memory_mb=memory_mb)
        self._workers = workers
        self._pool: SandboxPool | None = None

    @property
    def pool(self) -> SandboxPool:
        if self._pool is None:
            self._pool = SandboxPool(self._workers)
        return self._pool

    def verify(self, problem: Problem, text: str) -> Outcome:
        return self.verify_batch([(problem, text)])[0]

    def verify_batch(self, items: list[tuple[Problem, str]]) -> list[Outcome]:
        """All test cases of all items run in parallel on the pool."""
        outcomes: list[Outcome | None] = [None] * len(items)
        plan: list[tuple[int, Execution]] = []
        for i, (problem, text) in enumerate(items):
            prepared = self._prepare(problem, text)
            if isinstance(prepared, Outcome):
                outcomes[i] = prepared
            else:
                plan += [(i, ex) for ex in prepared]
        try:
            results = self.pool.run_batch([ex for _, ex in plan]) if plan else []
        except Exception as exc:  # a broken sandbox is a verdict, never a crashed worker
            results = []
            for i, _ in plan:
                outcomes[i] = Outcome(False, "error", details=f"sandbox: {exc}")
        by_item: dict[int, list] = {}
        for (i, _), result in zip(plan, results):
            by_item.setdefault(i, []).append(result)
        for i, case_results in by_item.items():
            outcomes[i] = self._combine(case_results)
        return [o for o in outcomes if o is not None]

    def _prepare(self, problem: Problem, text: str) -> Outcome | list[Execution]:
        if not isinstance(text, str):
            return Outcome(False, "bad_output", details="binary or non-text candidate")
        if len(text) > MAX_TEXT_CHARS:
            return Outcome(False, "bad_output", details=f"candidate of {len(text)} chars is over the {MAX_TEXT_CHARS}-char cap")
        if "\x00" in text:
            return Outcome(False, "bad_output", details="binary or non-text candidate")
        try:
            cases = parse_tests(problem.tests)
        except (ValueError, TypeError) as exc:
            return Outcome(False, "bad_input", details=f"tests: {exc}")
        code = extract_code(text, _names_in_tests(cases))
        if code is None or not code.strip():
            return Outcome(False, "no_answer", details="no Python code block found")
        if len(code) > MAX_CODE_CHARS:
            return Outcome(False, "bad_output", details=f"program of {len(code)} chars")
        return [Execution(code=code, mode=c.mode, tests=c.tests, stdin=c.stdin, expected_stdout=c.expected,
                          limits=self.limits) for c in cases]

    @staticmethod
    def _combine(results: list) -> Outcome:
        passed = sum(r.passed for r in results)
        score = passed / len(results)
        if passed == len(results):
            return Outcome(True, "correct", score=1.0, details=f"{passed}/{len(results)} test cases passed")
        first = next((i, r) for i, r in enumerate(results) if not r.passed)
        return Outcome(False, first[1].reason, score=score,
                       details=f"{passed}/{len(results)} passed; case {first[0]}: {first[1].detail}"[:2000])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


@VERIFIERS.register("code")
def make_code_verifier(timeout_s: float = 5.0, workers: int | None = None) -> CodeVerifier:
    return CodeVerifier(timeout_s=timeout_s, workers=workers)
