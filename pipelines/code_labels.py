"""Labels without a reference for code (#14): CodeT-style dual agreement (Chen et al., 2022).

    problem ─ test writer ─> asserts ┐
            ─ n solutions ───────────┴─> sandbox: every distinct program x every assert ─> consensus sets

A consensus set is the solutions that pass exactly the same tests together with those tests;
its score is |solutions| x |tests|. The best set labels the problem when its score reaches
`min_score` and its share of the n solutions reaches `min_share` (a solution without a program
counts against the share); its tests become the problem's tests, its first solution the
reference. A tie for the best score between two sets is no label: solutions and tests disagree.

Sandbox cost: one execution per (distinct program, assert), each assert in its own test process,
as the code verifier runs a problem's assert specs; identical programs run once. The per-test
results also give the label samples' verdicts (the code verifier's own combine rule), so a kept
problem is not run twice.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from factory.errors import FactoryError
from schemas.synthesis import CodeLabel
from verifiers.base import Outcome
from verifiers.code import CodeVerifier, extract_code, fenced_blocks
from verifiers.sandbox import ExecResult, Execution


def parse_asserts(text: str, limit: int) -> list[str]:
    """The distinct one-line `assert` statements of a test writer's output (inside code blocks
    when it wrote any, else the whole text), in order, at most `limit`."""
    blocks = fenced_blocks(text)
    body = "\n".join(b for _, b in blocks) if blocks else text
    found: list[str] = []
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("assert") or line in found:
            continue
        try:
            tree = ast.parse(line)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Assert):
            found.append(line)
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class Consensus:
    solutions: tuple[int, ...]
    tests: tuple[int, ...]

    @property
    def score(self) -> int:
        return len(self.solutions) * len(self.tests)


def consensus_sets(passed: list[frozenset[int] | None]) -> list[Consensus]:
    """Solutions grouped by the exact set of tests they pass, best score first (ties: more tests,
    then the set whose first solution comes first). Solutions without a program are left out."""
    groups: dict[frozenset[int], list[int]] = {}
    for idx, tests in enumerate(passed):
        if tests is not None:
            groups.setdefault(tests, []).append(idx)
    sets = [Consensus(tuple(sols), tuple(sorted(tests))) for tests, sols in groups.items()]
    return sorted(sets, key=lambda c: (-c.score, -len(c.tests), c.solutions[0]))


@dataclass
class CodeLabelOutcome:
    label: CodeLabel
    tests: list[str]  # the kept asserts ([] when unlabelled)
    reference: str | None  # a consensus program; None: unlabelled
    reason: str  # "" when labelled, else unlabelled / no_tests
    why: str
    outcomes: list[Outcome]  # per solution, judged on the kept tests (labelled problems only)


def decide(passed: list[frozenset[int] | None], tests: list[str], min_score: int,
           min_share: float) -> tuple[CodeLabel, Consensus | None, str]:
    """The label from the pass matrix alone (no sandbox): (label, chosen set or None, why not)."""
    n = len(passed)
    sets = consensus_sets(passed)
    best = sets[0] if sets else None
    share = len(best.solutions) / n if best and n else 0.0
    label = CodeLabel(method=f"codet@{n}", confidence=round(share, 4), n=n,
                      answered=sum(p is not None for p in passed), score=best.score if best else 0, tests=tests,
                      passed=[sorted(p) if p is not None else None for p in passed],
                      consensus=[[list(c.solutions), list(c.tests), c.score] for c in sets[:8]])
    if best is None:
        return label, None, f"none of the {n} solutions held a program"
    if best.score == 0:
        return label, None, f"no solution passed any of the {len(tests)} tests"
    if len(sets) > 1 and sets[1].score == best.score:
        return label, None, f"tie: two consensus sets with score {best.score}"
    if best.score < min_score:
        return label, None, f"best consensus score {best.score} < {min_score}"
    if share < min_share:
        return label, None, f"consensus share {len(best.solutions)}/{n} = {share:.2f} < {min_share}"
    label.kept_tests, label.solutions = list(best.tests), list(best.solutions)
    for t in range(len(tests)):
        if t not in best.tests:
            by = [i for i, p in enumerate(passed) if p is not None and t in p]
            label.dropped.append([t, "outside_consensus" if by else "passed_by_none"])  # by: never a consensus member
    return label, best, ""


def code_label(texts: list[str], writer_texts: list[str], verifier: CodeVerifier, max_tests: int,
               min_score: int, min_share: float) -> CodeLabelOutcome:
    """Run every distinct program of `texts` against every assert of `writer_texts` and label."""
    tests: list[str] = []
    for text in writer_texts:
        tests += [t for t in parse_asserts(text, max_tests) if t not in tests]
    tests = tests[:max_tests]
    n = len(texts)
    if not tests:
        label = CodeLabel(method=f"codet@{n}", confidence=0.0, n=n, answered=0, score=0)
        return CodeLabelOutcome(label, [], None, "no_tests", "the test writer gave no assert statement", [])
    needed = frozenset(node.id for t in tests for node in ast.walk(ast.parse(t)) if isinstance(node, ast.Name))
    programs = [_program(text, needed) for text in texts]
    distinct = sorted({p for p in programs if p is not None}, key=programs.index)
    plan = [(prog, t) for prog in distinct for t in range(len(tests))]
    executions = [Execution(code=prog, mode="assert", tests=tests[t], limits=verifier.limits) for prog, t in plan]
    try:
        results = verifier.pool.run_batch(executions) if executions else []
    except FactoryError:
        raise  # a setup problem (no sandbox python): stop the run, as the verification path does
    except Exception as exc:  # noqa: BLE001  (a broken sandbox passes nothing: no label, never a crash)
        results = [ExecResult("error", False, f"sandbox: {exc}")] * len(executions)
    by_program: dict[str, dict[int, ExecResult]] = {}
    for (prog, t), result in zip(plan, results):
        by_program.setdefault(prog, {})[t] = result
    passed = [None if p is None else frozenset(t for t, r in by_program[p].items() if r.passed) for p in programs]
    label, best, why = decide(passed, tests, min_score, min_share)
    if results and all(r.reason == "error" for r in results):  # say so: not the model's failure
        why = f"{why}; every sandbox execution failed: {results[0].detail[:300]}"
    if best is None:
        return CodeLabelOutcome(label, [], None, "unlabelled", why, [])
    outcomes = [_judge(by_program.get(p), best.tests) if p is not None else
                Outcome(False, "no_answer", details="no Python code block found") for p in programs]
    return CodeLabelOutcome(label, [tests[t] for t in best.tests], programs[best.solutions[0]], "", "", outcomes)


def _program(text: str, needed: frozenset[str]) -> str | None:
    code = extract_code(text, needed)
    return code if code and code.strip() else None


def _judge(results: dict[int, ExecResult], kept: tuple[int, ...]) -> Outcome:
    """A solution's verdict on the kept tests: the code verifier's rule over the same executions."""
    return CodeVerifier._combine([results[t] for t in kept])  # noqa: SLF001  (its rule, not a copy)


def tests_json(asserts: list[str]) -> str:
    """Problem.tests for kept asserts: one assert spec each, as the code verifier reads them."""
    return json.dumps([{"type": "assert", "code": a} for a in asserts])


__all__ = ["CodeLabelOutcome", "Consensus", "code_label", "consensus_sets", "decide", "parse_asserts", "tests_json"]
