"""Math answers: extract the final answer by GRADING.md's rules, then decide equivalence.

The answer and the reference are parsed into typed answers (`verifiers.answers`: number or
expression, equation, interval/union, set, tuple, list of values, matrix, text) and compared per
kind. Leaves are compared exactly: plain arithmetic as Python Fractions in-process; anything
symbolic with sympy in a bounded child process (decimals become exact rationals, so an
approximation of an irrational value is never equal to it), so a pathological expression costs
at most `timeout_s` and never hangs or kills the caller. math-verify is no longer on the
decision path: its float tolerance passed approximations and its rewrites passed false equations.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from verifiers.answers import Answer, Scalar, Unparsable, Values, clean, equivalent, kind_of, multi_valued, parse
from verifiers.base import VERIFIERS, Outcome
from verifiers.exact import TooLarge, evaluate
from verifiers.timeout import BoundedWorker, CallTimeout, WorkerDied
from schemas import Problem

VERSION = "0.2"
MAX_TEXT_CHARS = 200_000
MAX_ANSWER_CHARS = 1_000

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_MARKERS = re.compile(
    r"(?:final answer is|final answer\s*\**\s*:|the answer is|answer\s*\**\s*:)\s*:?\s*(.+)", re.IGNORECASE)
# GSM8K's "#### 72"; a markdown heading ("#### Step 2", "#### 1. Setting up") is not an answer.
_GSM8K_MARKER = re.compile(r"####[ \t]*(?!\d+[.)][ \t]+[A-Za-z])([-+$\\\d.][^\n]*)")
_FINAL_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?\**[ \t]*Final Answer[ \t]*\**[ \t]*:?[ \t]*\**[ \t]*\n\s*(.+)",
                            re.M | re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")


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
    # The last final-answer marker in the text wins: a line, GSM8K's ####, or a heading.
    found = [(m.start(), m.group(1)) for pattern in (_FINAL_MARKERS, _GSM8K_MARKER) for m in pattern.finditer(text)]
    found += [(m.start(), _heading_answer(m.group(1))) for m in _FINAL_HEADING.finditer(text)]
    if not found:
        return None, "no_answer"
    answer = _final_line_answer(max(found)[1])
    return (answer, "") if answer else (None, "no_answer")


def _heading_answer(line: str) -> str:
    """The line under a "### Final Answer" heading: its bold value if it has one."""
    bold = _BOLD.findall(line)
    return bold[-1] if bold else line


_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_SIGN_OFF = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)


def _final_line_answer(rest: str) -> str:
    """The value on a final-answer line. Minerva's "Final Answer: The final answer is $X$. I hope
    it is correct." nests a second marker and a sign-off; a math span is the answer when the line
    starts with one, so a period inside it (3.5) or after it is not cut wrongly."""
    line = rest.strip().splitlines()[0].strip() if rest.strip() else ""
    while (inner := _FINAL_MARKERS.search(line)):
        line = inner.group(1).strip()
    line = _SIGN_OFF.sub("", line.strip("* \t")).strip()
    span = _MATH_SPAN.match(line)
    if span:
        return next(g for g in span.groups() if g is not None).strip()
    return line.rstrip(".").strip("$ ").strip()


_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?(?:\s.*)?$")
_CHOICE_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textnormal)\s*\{([^{}]*)\}")
MAX_NESTING = 64


def nesting_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}]":
            depth -= 1
    return deepest


def _unwrapped_parens(answer: str) -> str:
    """((((1)))) → 1, so harmless wrapping does not count as nesting."""
    while len(answer) >= 2 and answer[0] == "(" and answer[-1] == ")":
        depth = 0
        for i, ch in enumerate(answer):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(answer) - 1:
                return answer
        answer = answer[1:-1].strip()
    return answer


def choice_letter(answer: str) -> str | None:
    answer = _CHOICE_WRAPPERS.sub(r"\1", _CHOICE_WRAPPERS.sub(r"\1", clean(answer)))
    m = _CHOICE.match(answer.strip())
    return m.group(1).upper() if m else None


def _has_lookalikes(text: str) -> bool:
    """Digits or letters from other scripts that imitate ASCII (GRADING: they are not digits)."""
    for ch in text:
        if ord(ch) > 127 and ch not in "π−×÷·√∞≤≥≠±∓∪∅ℝ⟨⟩°≈":
            if unicodedata.category(ch) in ("Nd", "Lu", "Ll"):
                return True
    return False


# ---- leaves: exact comparison with sympy, inside the bounded worker process ------------------

_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")


def _to_sympy(latex: str) -> object:
    """LaTeX → sympy with decimals as exact rationals: 1.41421 is 141421/100000, never a float
    that compares equal to sqrt(2) within a tolerance."""
    import sympy
    from latex2sympy2_extended import latex2sympy

    exact = _DECIMAL.sub(lambda m: f"{{\\frac{{{m.group(1) or '0'}{m.group(2)}}}{{1{'0' * len(m.group(2))}}}}}", latex)
    expr = latex2sympy(exact)
    if isinstance(expr, sympy.Basic):
        # latex2sympy reads `i` as a symbol; in a final answer it is the imaginary unit.
        names = {s for s in expr.free_symbols if getattr(s, "name", "") == "i"}
        expr = expr.subs({s: sympy.I for s in names}) if names else expr
    return expr


def _probe_points(symbols: list, count: int = 3) -> list[dict]:
    import random

    import sympy

    rng = random.Random(12345)
    return [{s: sympy.Rational(rng.randint(-97, 97), rng.randint(1, 13)) for s in symbols} for _ in range(count)]


def _refuted(diff: object, digits: int = 40) -> bool:
    """A numeric witness that diff is not identically zero (only ever used to say 'different')."""
    import sympy

    symbols = sorted(diff.free_symbols, key=str)  # type: ignore[attr-defined]
    for point in _probe_points(symbols) if symbols else [{}]:
        value = sympy.N(diff.subs(point) if point else diff, digits)  # type: ignore[attr-defined]
        if value.is_number and value.is_finite and value != 0 and abs(value) > sympy.Float(10) ** (10 - digits):
            return True
    return False


def _is_zero(diff: object) -> bool:
    import sympy

    if diff == 0:
        return True
    if _refuted(diff):
        return False
    return sympy.expand(diff) == 0 or sympy.simplify(diff) == 0  # type: ignore[operator]


def _same_value(a: object, b: object) -> bool:
    import sympy

    if a == b:
        return True
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return False
    if any(x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) for x in (a, b)):
        return False  # infinities are equal only as the same symbol (a == b above)
    return _is_zero(a - b)


def _proportional(a: object, b: object) -> bool:
    """Two equations f = 0 and g = 0 with f = c·g for a nonzero constant c: the same line,
    plane or curve however it is written."""
    import sympy

    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)) or a == 0 or b == 0:
        return False
    ratio = sympy.cancel(sympy.together(a / b))
    if ratio.free_symbols:
        ratio = sympy.simplify(ratio)
    return not ratio.free_symbols and ratio.is_number and ratio != 0 and ratio.is_finite is True


def _sympy_compare(kind: str, a: object, b: object) -> bool:
    """Runs inside the bounded worker process: scalars by exact value, equations by solution set."""
    try:
        if kind == "scalar":
            left, right = _to_sympy(a), _to_sympy(b)  # type: ignore[arg-type]
        else:
            (la, ra), (lb, rb) = a, b  # type: ignore[misc]
            left, right = _to_sympy(la) - _to_sympy(ra), _to_sympy(lb) - _to_sympy(rb)  # type: ignore[operator]
    except Exception:  # LaTeX that does not parse states no value: it cannot equal the reference
        return False
    return _same_value(left, right) if kind == "scalar" else _proportional(left, right)


class _BoundedLeaves:
    """answers.Leaves: exact arithmetic in-process, sympy in the bounded worker."""

    def __init__(self, worker: BoundedWorker, timeout_s: float) -> None:
        self.worker, self.timeout_s = worker, timeout_s

    def scalars_equal(self, a: str, b: str) -> bool:
        if _compact(a) == _compact(b):
            return True
        exact_a, exact_b = evaluate(a), evaluate(b)
        if exact_a is not None and exact_b is not None:
            return exact_a == exact_b
        return bool(self.worker.call(("scalar", a, b), self.timeout_s))

    def equations_equal(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        return bool(self.worker.call(("equation", a, b), self.timeout_s))


def _compact(latex: str) -> str:
    return re.sub(r"\s+", "", latex)


def _is_empty(answer: str) -> bool:
    value = re.sub(r"^[A-Za-z]\s*=", "", _CHOICE_WRAPPERS.sub(r"\1", clean(answer)).strip())
    return not value.strip(" {}")


def _gold_choice(reference: str) -> str | None:
    """A reference that is one capital letter A-E, bare or wrapped: `C`, `(C)`, `\text{(C)}`.
    (A lowercase `e` is Euler's number, not a choice.)"""
    bare = _CHOICE_WRAPPERS.sub(r"\1", clean(reference)).strip()
    return bare.strip("()") if re.fullmatch(r"\(?[A-E]\)?", bare) else None


def _parse_gold(reference: str) -> Answer:
    """A reference always has a reading: if its structure does not parse, it is one leaf."""
    try:
        return parse(reference)
    except Unparsable:
        return Scalar(clean(reference))


class MathVerifier:
    name = "math"
    version = VERSION

    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._worker = BoundedWorker("verifiers.math:_sympy_compare")
        self._leaves = _BoundedLeaves(self._worker, timeout_s)
        self._compare_cached = lru_cache(maxsize=65536)(self._compare)

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
        if _is_empty(answer):  # "x =", "\text{}", "$": a final line with no value in it
            return Outcome(False, "no_answer", details=f"no value in the final answer {answer!r}", extracted=answer)
        if nesting_depth(_unwrapped_parens(answer)) > MAX_NESTING:
            return Outcome(False, "bad_output", details=f"answer nested deeper than {MAX_NESTING}", extracted=answer[:200])
        if _has_lookalikes(answer):
            return Outcome(False, "wrong_answer", details="non-ASCII look-alike characters", extracted=answer)
        try:
            verdict, why = self._compare_cached(reference.strip(), answer)
        except CallTimeout as exc:
            return Outcome(False, "timeout", details=str(exc), extracted=answer)
        except TooLarge as exc:
            return Outcome(False, "wrong_answer", details=f"{exc}: not evaluated", extracted=answer[:200])
        except WorkerDied as exc:
            return Outcome(False, "error", details=str(exc), extracted=answer)
        if verdict == "correct":
            return Outcome(True, "correct", details=f"{answer!r} == {reference!r} ({why})", extracted=answer)
        return Outcome(False, verdict, details=f"{answer!r} != {reference!r} ({why})", extracted=answer)

    def _compare(self, reference: str, answer: str) -> tuple[str, str]:
        """(reason, kinds): correct, wrong_answer or hedged, and how the two answers were read."""
        if clean(reference) == clean(answer):
            return "correct", "same text"
        ref_letter = _gold_choice(reference)
        if ref_letter is not None:  # multiple choice: only the letter is compared
            return ("correct" if choice_letter(answer) == ref_letter else "wrong_answer"), "choice"
        gold = _parse_gold(reference)
        try:
            cand = parse(answer)
        except Unparsable as exc:
            return "wrong_answer", f"unparsable answer: {exc}"
        kinds = f"{kind_of(gold)} vs {kind_of(cand)}"
        # "12 or 13", "12 \pm 1": alternatives, unless the question asks for several values.
        if isinstance(cand, Values) and cand.joiner != "," and not multi_valued(gold):
            return "hedged", kinds
        return ("correct" if equivalent(gold, cand, self._leaves) else "wrong_answer"), kinds

    def close(self) -> None:
        self._worker.close()


@VERIFIERS.register("math")
def make_math_verifier(timeout_s: float = 5.0) -> MathVerifier:
    return MathVerifier(timeout_s=timeout_s)
