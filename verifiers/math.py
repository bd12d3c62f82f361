"""Math answers: extract the final answer by GRADING.md's rules, then decide equivalence.

Cheap exact paths first (plain numbers compared as exact rationals, normalised strings);
math-verify (sympy) only when needed, in a bounded child process so a pathological
expression costs at most `timeout_s` and never hangs or kills the caller.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from verifiers.base import VERIFIERS, Outcome
from verifiers.exact import TooLarge, evaluate
from verifiers.timeout import BoundedWorker, CallTimeout, WorkerDied
from schemas import Problem

VERSION = "0.1"
MAX_TEXT_CHARS = 200_000
MAX_ANSWER_CHARS = 1_000

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_MARKERS = re.compile(
    r"(?:final answer is|final answer:|the answer is|answer:|####)\s*:?\s*(.+)", re.IGNORECASE)


def _braced(text: str, start: int) -> str | None:
    """The contents of the brace group opening at text[start-1]; None if unclosed."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def _boxes(text: str) -> list[tuple[int, int, str | None]]:
    """(start, end, contents) of every box; contents None when the box is unclosed."""
    found: list[tuple[int, int, str | None]] = []
    for m in _BOX.finditer(text):
        if found and m.start() < found[-1][1]:
            continue  # nested inside the previous box
        inner = _braced(text, m.end())
        found.append((m.start(), m.end() + len(inner) + 1 if inner is not None else len(text), inner))
    return found


def boxed_answers(text: str) -> list[str | None]:
    return [inner for _, _, inner in _boxes(text)]


_CONNECTOR = re.compile(r"^(?:[\s$,;/]|\\quad|\\text\{\s*(?:or|and)\s*\}|\bor\b|\band\b)*$")


def extract_answer(text: str) -> tuple[str | None, str]:
    """(answer, reason). Reason is '' on success, else no_answer or hedged."""
    boxes = _boxes(text)
    if boxes:
        _, _, last = boxes[-1]
        if last is None or not last.strip():
            return None, "no_answer"
        # Boxes joined only by "or", commas and the like are alternatives, not a correction.
        if len(boxes) > 1:
            (_, prev_end, prev), (last_start, _, _) = boxes[-2], boxes[-1]
            if prev is not None and prev.strip() != last.strip() and _CONNECTOR.match(text[prev_end:last_start]):
                return None, "hedged"
        return last.strip(), ""
    markers = list(_FINAL_MARKERS.finditer(text.replace("**", "")))
    if not markers:
        return None, "no_answer"
    answer = markers[-1].group(1).strip().splitlines()[0].strip().rstrip(".").strip("$ ")
    return (answer, "") if answer else (None, "no_answer")


_HEDGE = re.compile(r"\bor\b|\\pm|±|\\mp")
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textnormal|operatorname)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\[,!;: ]|\\q?quad|\\left|\\right|\\displaystyle")
_DECOR = re.compile(r"\\%|%|\\\$|\$|\^\s*\{?\\circ\}?|\\circ|°|\\degree")
_UNIT_WORDS = re.compile(r"^(-?[\d.,/]+)\s*[A-Za-z][A-Za-z ]*(?:\^\s*\{?\d\}?)?$")
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?(?:\s.*)?$")


def _normalise(answer: str) -> str:
    """Form-only rewrites that never change a value (GRADING: value, not form)."""
    answer = answer.replace("\u2212", "-").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    while (inner := re.fullmatch(r"\\(?:boxed|fbox)\{(.*)\}", answer.strip(), re.S)):
        answer = inner.group(1)
    answer = _WRAPPERS.sub(r"\1", _WRAPPERS.sub(r"\1", answer))
    answer = _DECOR.sub("", _SPACING.sub(" ", answer)).strip()
    answer = re.sub(r"^[a-zA-Z]\s*=\s*", "", answer)  # x = 3 → 3
    answer = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", answer)  # thousands separators
    m = _UNIT_WORDS.match(answer)  # "5 cm", "12 apples", "45 degrees": units are ignored
    if m:
        answer = m.group(1)
    return _strip_wrapping_parens(re.sub(r"\s+", " ", answer).strip().rstrip(".").strip())


MAX_NESTING = 64


def _strip_wrapping_parens(answer: str) -> str:
    """((((1)))) → 1; a tuple (1, 2) keeps its parentheses."""
    while len(answer) >= 2 and answer[0] == "(" and answer[-1] == ")" and "," not in answer:
        depth = 0
        for i, ch in enumerate(answer):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(answer) - 1:
                return answer  # the first "(" closes before the end: (a)+(b)
        answer = answer[1:-1].strip()
    return answer


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}]":
            depth -= 1
    return deepest


def choice_letter(answer: str) -> str | None:
    m = _CHOICE.match(answer.strip())
    return m.group(1).upper() if m else None


def _has_lookalikes(text: str) -> bool:
    """Digits or letters from other scripts that imitate ASCII (GRADING: they are not digits)."""
    for ch in text:
        if ord(ch) > 127 and ch not in "π−×÷·√∞≤≥":
            if unicodedata.category(ch) in ("Nd", "Lu", "Ll"):
                return True
    return False


def _math_verify_equal(reference: str, answer: str) -> bool:
    """Runs inside the bounded worker process."""
    import logging

    import sympy
    from math_verify import parse, verify

    # It warns that its own timeout is off: here the worker process is the time bound.
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    gold = parse(f"\\boxed{{{reference}}}", parsing_timeout=None)
    target = parse(f"\\boxed{{{answer}}}", parsing_timeout=None)
    if not (gold and target):
        return False
    if verify(gold, target, allow_set_relation_comp=True, timeout_seconds=None):
        return True
    # latex2sympy reads `i` as a symbol; in a final answer it is the imaginary unit.
    def as_complex(expr: object) -> object:
        if not isinstance(expr, sympy.Basic):
            return None
        names = {s for s in expr.free_symbols if getattr(s, "name", "") == "i"}
        return expr.subs({s: sympy.I for s in names}) if names else None

    g, t = as_complex(gold[0]), as_complex(target[0])
    if g is not None and t is not None:
        return bool(verify([g], [t], timeout_seconds=None))
    return False


class MathVerifier:
    name = "math"
    version = VERSION

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._worker = BoundedWorker("verifiers.math:_math_verify_equal")
        self._equal_cached = lru_cache(maxsize=65536)(self._equal)

    def verify(self, problem: Problem, text: str) -> Outcome:
        try:
            return self._verify(problem.reference, text)
        except Exception as exc:  # the contract: never raise into the caller
            return Outcome(False, "error", details=f"{type(exc).__name__}: {exc}")

    def _verify(self, reference: str, text: str) -> Outcome:
        if not isinstance(reference, str) or not reference.strip():
            return Outcome(False, "bad_input", details="empty reference answer")
        if not isinstance(text, str) or "\x00" in text or len(text) > MAX_TEXT_CHARS:
            return Outcome(False, "bad_output", details="binary or oversized candidate text")
        answer, why = extract_answer(text)
        if answer is None:
            return Outcome(False, why, details="no final answer found" if why == "no_answer"
                           else "several different final answers")
        if len(answer) > MAX_ANSWER_CHARS:
            return Outcome(False, "bad_output", details=f"answer of {len(answer)} chars", extracted=answer[:200])
        if not _normalise(answer):  # "x =", "\text{}", "$": a final line with no value in it
            return Outcome(False, "no_answer", details=f"no value in the final answer {answer!r}", extracted=answer)
        if nesting_depth(_strip_wrapping_parens(answer)) > MAX_NESTING:
            return Outcome(False, "bad_output", details=f"answer nested deeper than {MAX_NESTING}", extracted=answer[:200])
        if _has_lookalikes(answer):
            return Outcome(False, "wrong_answer", details="non-ASCII look-alike characters", extracted=answer)
        # "\pm" or "or" is hedging unless the reference itself has several values.
        if _HEDGE.search(answer) and not _HEDGE.search(reference) and "," not in reference:
            return Outcome(False, "hedged", details=f"alternatives in {answer!r}", extracted=answer)
        try:
            equal = self._equal_cached(reference.strip(), answer)
        except CallTimeout as exc:
            return Outcome(False, "timeout", details=str(exc), extracted=answer)
        except TooLarge as exc:
            return Outcome(False, "wrong_answer", details=f"{exc}: not evaluated", extracted=answer[:200])
        except WorkerDied as exc:
            return Outcome(False, "error", details=str(exc), extracted=answer)
        if equal:
            return Outcome(True, "correct", details=f"{answer!r} == {reference!r}", extracted=answer)
        return Outcome(False, "wrong_answer", details=f"{answer!r} != {reference!r}", extracted=answer)

    def _equal(self, reference: str, answer: str) -> bool:
        ref, ans = _normalise(reference), _normalise(answer)
        if ref == ans:
            return True
        ref_letter = choice_letter(ref) if len(ref) <= 3 else None
        if ref_letter is not None:  # multiple choice: only the letter is compared
            return choice_letter(ans) == ref_letter
        ref_x = evaluate(ref)
        ans_x = evaluate(ans)
        if ref_x is not None and ans_x is not None:
            return ref_x == ans_x
        return self._worker.call((ref, ans), self.timeout_s)

    def close(self) -> None:
        self._worker.close()


@VERIFIERS.register("math")
def make_math_verifier(timeout_s: float = 5.0) -> MathVerifier:
    return MathVerifier(timeout_s=timeout_s)
