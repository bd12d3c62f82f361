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
# A final-answer line. [ \t]* (not \s*) around the colon: two \s* runs backtrack quadratically
# on a run of newlines.
_FINAL_MARKERS = re.compile(
    r"(?:(?P<strong>final answer is|final answer[ \t]*\**[ \t]*:)|the answer is|answer[ \t]*\**[ \t]*:)[ \t]*:?[ \t]*(?P<rest>.+)",
    re.IGNORECASE)
# GSM8K's "#### 72" (a number, maybe lower-case unit words); a markdown heading ("#### Step 2",
# "#### 1. Setting up", "#### 3 Cases", "#### 1 - Setup") is not an answer.
_GSM8K_MARKER = re.compile(r"####[ \t]*(?P<rest>[-+]?\$?[ \t]*\d[\d,]*(?:\.\d+)?(?:[ \t]+[a-z][a-z ]*)?)[ \t]*$", re.M)
_FINAL_HEADING = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*)?\**[ \t]*Final Answer[ \t]*\**[ \t]*:?[ \t]*\**[ \t]*\n\s*(?P<rest>.+)",
                            re.M | re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]+?)\*\*")
# After a weak marker ("the answer is"), this much more text means it was working, not the end.
MAX_TEXT_AFTER_WEAK_MARKER = 400


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


_HEDGE_WORDS = {"or", "and", "perhaps", "maybe", "possibly", "equivalently", "alternatively", "if", "otherwise",
                "either", "else", "lor", "vee"}
_OR_AFTER = re.compile(r"^(?:\W|\\[a-zA-Z]+)*?\s*\b(?:or|otherwise|alternatively)\b", re.IGNORECASE)
_OR_BEFORE = re.compile(r"\b(?:or|otherwise|alternatively)\b(?:\W|\\[a-zA-Z]+)*$", re.IGNORECASE)


def _joins_alternatives(between: str) -> bool:
    """Text between two boxes that only joins them: punctuation, spacing commands, `\\`, and a
    few words such as "or", "otherwise", "perhaps" (at most 6 words)."""
    words = re.findall(r"[A-Za-z]+", re.sub(r"\\(?:text|mathrm|textbf)\s*\{|\\(?:q?quad|[,;:! ])", " ", between))
    return len(words) <= 6 and all(w.lower() in _HEDGE_WORDS for w in words)


def extract_answer(text: str) -> tuple[str | None, str]:
    """(answer, reason). Reason is '' on success, else no_answer or hedged."""
    boxes = _boxes(text)
    if boxes:
        return _boxed_answer(text, boxes)
    found = _markers(text)
    if not found:
        return None, "no_answer"
    answer = _final_line_answer(found[-1][1])
    return (answer, "") if answer else (None, "no_answer")


def _boxed_answer(text: str, boxes: list[tuple[int, int, str | None]]) -> tuple[str | None, str]:
    """The last box, unless it is offered as one of several alternatives: an earlier, different
    box joined to it only by "or", commas and the like (`\\boxed{13} or perhaps \\boxed{12}`,
    `\\boxed{13}, \\boxed{12}, \\boxed{12}`), or "or ..." right after it. A later box after
    working is a correction, and counts."""
    last_start, last_end, last = boxes[-1]
    if last is None or not last.strip():
        return None, "no_answer"
    line_start = text.rfind("\n", 0, last_start) + 1
    if _OR_AFTER.match(text[last_end:last_end + 40].split("\n")[0]) or _OR_BEFORE.search(text[max(line_start, last_start - 40):last_start]):
        return None, "hedged"  # \boxed{12} or 13; the answer is 13 or \boxed{12}
    gap_end, alternatives = last_start, [last.strip()]
    for start, end, inner in reversed(boxes[:-1]):
        if inner is None or not _joins_alternatives(text[end:gap_end]):
            break
        if inner.strip() not in alternatives:
            alternatives.insert(0, inner.strip())
        gap_end = start
    if len(alternatives) > 1:  # graded as alternatives: right only if every one is (`or equivalently`)
        return " \\text{ or } ".join("{" + a + "}" for a in alternatives), ""
    return last.strip(), ""


_HYPOTHESIS = re.compile(r"\b(?:suppose|supposing|assume|assuming|if|guess|mistake|whether|might|could|would|not|maybe|"
                         r"perhaps|probably|possibly|likely|at first|initially|wrote|thought|earlier)\b[^.\n]{0,40}$",
                         re.IGNORECASE)
_CHANGE_OF_MIND = re.compile(r"\b(?:wait|however|but|actually|hmm|contradiction|mistake|wrong|incorrect|recheck|re-evaluate|"
                             r"reconsider|oops|hold on|on second thought|correction|nope|scratch that|instead|rather|"
                             r"no,|err)\b", re.IGNORECASE)
_TRUNCATED = re.compile(r"(?:[=+\-*/:(,^]|\\times|\\cdot|\\frac)\s*$")


def _markers(text: str) -> list[tuple[int, str]]:
    """(position, rest of line) of the final-answer markers that state an answer, in order.
    Strong markers ("Final Answer:", "the final answer is", a heading, GSM8K's ####) win over
    weak ones ("the answer is", "Answer:"), and a weak one inside the working does not count:
    a hypothesis ("suppose the answer is 12"), one followed by more checking or a lot more
    text, or one whose rest starts with a word ("the answer is determined by ...")."""
    truncated = bool(_TRUNCATED.search(text[-200:]))
    strong, weak = [], []
    for m in _GSM8K_MARKER.finditer(text):
        strong.append((m.start(), m.group("rest")))
    for m in _FINAL_HEADING.finditer(text):
        strong.append((m.start(), _heading_answer(m.group("rest"))))
    for m in _FINAL_MARKERS.finditer(text):
        # Only a window after the marker is read: a marker with more text than the cap after
        # it is already out, so the scan stays linear however many markers there are.
        line_end = text.find("\n", m.end())
        after = text[line_end:line_end + 4 * MAX_TEXT_AFTER_WEAK_MARKER] if line_end >= 0 else ""
        retracted = (_CHANGE_OF_MIND.search(after) or _HYPOTHESIS.search(text[max(0, m.start() - 60):m.start()]))
        if m.group("strong"):
            if not retracted:
                strong.append((m.start(), m.group("rest")))
            continue
        if (retracted or len(re.sub(r"\s+", "", after)) > MAX_TEXT_AFTER_WEAK_MARKER or (after.strip() and truncated)
                or re.match(r"[a-z]{3,}\b", m.group("rest").strip())):
            continue
        weak.append((m.start(), m.group("rest")))
    return sorted(strong) or sorted(weak)


def _heading_answer(line: str) -> str:
    """The line under a "### Final Answer" heading: its bold value when that ends the sentence
    ("... is **6**."), else the line ("**13** or **12**" stays a hedge)."""
    bold = _BOLD.findall(line)
    before = line[:line.find("**")]
    if (len(bold) == 1 and re.search(r"\*\*[^*]+\*\*\s*\.?\s*$", line)
            and not re.search(r"\b(?:not|instead of|rather than|never|except)\b", before, re.IGNORECASE)):
        return bold[0]
    return line


# A math span; \$ inside $...$ is an escaped dollar, not the end of the span.
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$((?:\\\$|[^$])+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_SIGN_OFF = re.compile(r"\s*I hope it is correct\.?\s*$", re.IGNORECASE)
# After a first math span: another value or an alternative ("$12$ or $13$", "$2$ and $-2$", "$12$, 13").
_MORE_VALUES = re.compile(r"^\s*(?:,|\band\b)\s*[-+]?\d|\$|\\\(|\bor\b|;|\botherwise\b", re.IGNORECASE)


def _final_line_answer(rest: str) -> str:
    """The value on a final-answer line. Minerva's "Final Answer: The final answer is $X$. I hope
    it is correct." nests a second marker and a sign-off; a math span is the answer when the line
    starts with one, so a period inside it (3.5) or after it is not cut wrongly, unless more
    values follow it ("$12$ or $13$", "$2$ and $-2$"): then the whole line is the answer."""
    line = rest.strip().splitlines()[0].strip() if rest.strip() else ""
    while (inner := _FINAL_MARKERS.search(line)):
        line = inner.group("rest").strip()
    line = _SIGN_OFF.sub("", line.replace("**", "")).strip(" \t")
    span = _MATH_SPAN.match(line)
    rest_of_line = line[span.end():] if span else ""
    if span and not _MORE_VALUES.search(rest_of_line):
        return next(g for g in span.groups() if g is not None).strip()
    if span:
        line = _MATH_SPAN.sub(lambda m: next(g for g in m.groups() if g is not None), line)
    return line.rstrip(".").strip("$ ").strip()


_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?[.:]?(?:\s.*)?$")
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


_CHOICE_QUALIFIERS = re.compile(r"(?i:\b(?:or|and|not|no|nor|incorrect|wrong|false|except|maybe|perhaps|either|neither)\b)"
                                r"|\(\s*[A-Ea-e]\s*\)|(?<![\\A-Za-z])[A-E](?![A-Za-z])")


def choice_letter(answer: str) -> str | None:
    """`C`, `(C)`, `\textbf{(C)} 12`; not `C or D`, `(C) 15 or (D) 20`, `C is incorrect`."""
    answer = _CHOICE_WRAPPERS.sub(r"\1", _CHOICE_WRAPPERS.sub(r"\1", clean(answer))).strip()
    m = _CHOICE.match(answer)
    rest = answer[m.end(1):].lstrip(").: ") if m else ""
    if not m or _CHOICE_QUALIFIERS.search(rest) or re.match(r"(?:=|\\approx|≈|<|>|\\[lg]e)", rest):
        return None  # `c = 5`, `e \approx 2.718` name values, not choices
    return m.group(1).upper()


def _has_lookalikes(text: str) -> bool:
    """Digits or letters from other scripts that imitate ASCII (GRADING: they are not digits)."""
    for ch in text:
        if ord(ch) > 127 and ch not in "π−×÷·√∞≤≥≠±∓∪∅ℝ⟨⟩°≈":
            if unicodedata.category(ch) in ("Nd", "Lu", "Ll"):
                return True
    return False


# ---- leaves: exact comparison with sympy, inside the bounded worker process ------------------

_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?![\d.])")


_PLAIN_SQRT = re.compile(r"(?<![\\A-Za-z])sqrt\s*\(([^()]*)\)")
_PLAIN_FUNCTIONS = re.compile(r"(?<![\\A-Za-z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|log|ln|exp|sqrt|pi)"
                              r"(?![A-Za-z])")


def _CASE_SENSITIVE() -> object:
    """latex2sympy's defaults, but X and x stay different symbols (as in the fast parser)."""
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    return ConversionConfig(interpret_as_mixed_fractions=True, interpret_simple_eq_as_assignment=False,
                            interpret_contains_as_eq=True, lowercase_symbols=False)


def _to_sympy(latex: str) -> object:
    """LaTeX → sympy with decimals as exact rationals: 1.41421 is 141421/100000, never a float
    that compares equal to sqrt(2) within a tolerance."""
    import sympy
    from latex2sympy2_extended import latex2sympy

    from verifiers.latex_fast import Unsupported, parse_fast

    latex = _PLAIN_SQRT.sub(r"\\sqrt{\1}", latex)
    latex = _PLAIN_FUNCTIONS.sub(r"\\\1", latex)  # cos 0 is \cos 0, not c·o·s·0
    try:
        return parse_fast(latex)  # the common forms, exactly, in well under a millisecond
    except Unsupported:
        pass
    exact = _DECIMAL.sub(lambda m: f"{{\\frac{{{m.group(1) or '0'}{m.group(2)}}}{{1{'0' * len(m.group(2))}}}}}", latex)
    expr = latex2sympy(exact, conversion_config=_CASE_SENSITIVE())
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
    symbols = sorted(diff.free_symbols, key=str)  # type: ignore[attr-defined]
    if symbols and diff.is_rational_function(*symbols):  # type: ignore[attr-defined]
        return _zero_at_secret_points(diff, symbols)
    return sympy.expand(diff) == 0 or sympy.simplify(diff) == 0  # type: ignore[operator]


def _zero_at_secret_points(diff: object, symbols: list) -> bool:
    """A rational function is identically zero iff its numerator is: evaluated exactly at
    points drawn secretly from [1, 2^61], a nonzero numerator of degree d vanishes with
    probability <= d / 2^61 per point (Schwartz-Zippel). The points are secret, so an answer
    cannot be built to vanish at them; no expand of (x+1)^2000 is needed."""
    import secrets

    import sympy

    hits = 0
    for _ in range(12):
        point = {s: sympy.Integer(secrets.randbelow(2**61) + 1) for s in symbols}
        value = diff.subs(point)  # type: ignore[attr-defined]
        if value.has(sympy.zoo, sympy.nan):
            continue  # a pole: draw again
        if not value.is_Rational:
            break  # irrational coefficients (x/(sqrt2+1)): exact evaluation is not a plain number
        if value != 0:
            return False
        hits += 1
        if hits == 4:
            return True
    return sympy.simplify(diff) == 0  # type: ignore[operator]


def _too_large(expr: object) -> bool:
    """Powers and binomials too big to evaluate exactly within the bound (GRADING: fail fast)."""
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_Integer and abs(int(node.exp)) > 10_000 and not node.base.is_Atom:
            return True
        if isinstance(node, (sympy.binomial, sympy.factorial)) and any(a.is_Integer and int(a) > 10_000 for a in node.args):
            return True
    return False


def _same_value(a: object, b: object) -> bool:
    import sympy

    if a == b:
        return True
    if _too_large(a) or _too_large(b):
        return False
    if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
        return False
    if any(x.has(sympy.oo, -sympy.oo, sympy.zoo, sympy.nan) for x in (a, b)):
        return False  # infinities are equal only as the same symbol (a == b above)
    return _is_zero(a - b)


def _rounds_to(exact: object, decimal: str) -> bool:
    """`\\frac{\\sqrt2}{2} \\approx 0.707`: the exact value is within half a unit of the decimal's
    last place (so `\\frac12 \\approx 0.67` does not make 0.67 right)."""
    import sympy

    places = len(decimal.split(".")[1]) if "." in decimal else 0
    value = sympy.N(exact, 40)  # type: ignore[call-overload]
    if not value.is_real:
        return False
    return abs(value - sympy.Rational(decimal)) <= sympy.Rational(1, 2 * 10 ** places)


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
        if kind == "approx":
            return _rounds_to(_to_sympy(a), str(b))  # type: ignore[arg-type]
        if kind == "scalar":
            left, right = _to_sympy(a), _to_sympy(b)  # type: ignore[arg-type]
        else:
            (la, ra), (lb, rb) = a, b  # type: ignore[misc]
            left, right = _to_sympy(la) - _to_sympy(ra), _to_sympy(lb) - _to_sympy(rb)  # type: ignore[operator]
    except Exception:  # LaTeX that does not parse states no value: it cannot equal the reference
        return False
    try:
        return _same_value(left, right) if kind == "scalar" else _proportional(left, right)
    except Exception:  # e^{e^{e^{e^{10}}}} overflows: equality was not shown
        return False


def warm_worker() -> None:
    """Imported before the worker reports ready, so no call pays for them inside its bound."""
    import sympy  # noqa: F401
    from latex2sympy2_extended import latex2sympy

    latex2sympy("x+1")


class _BoundedLeaves:
    """answers.Leaves: exact arithmetic in-process, sympy in the bounded worker."""

    def __init__(self, worker: BoundedWorker, timeout_s: float) -> None:
        self.worker, self.timeout_s = worker, timeout_s

    def scalars_equal(self, a: str, b: str) -> bool:
        if _compact(a) == _compact(b):
            return True
        if _subscripts(a) != _subscripts(b):
            return False  # 12_{13} is not 12: sympy would drop the subscript
        exact_a, exact_b = evaluate(a), evaluate(b)
        if exact_a is not None and exact_b is not None:
            return exact_a == exact_b
        return bool(self.worker.call(("scalar", a, b), self.timeout_s))

    def equations_equal(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        return bool(self.worker.call(("equation", a, b), self.timeout_s))

    def rounds_to(self, exact: str, decimal: str) -> bool:
        return bool(self.worker.call(("approx", exact, decimal), self.timeout_s))


def _compact(latex: str) -> str:
    """Spaces removed except between two word characters (`1 2` is not 12)."""
    return re.sub(r"(?<!\w)\s+|\s+(?!\w)", "", latex)


def _subscripts(latex: str) -> list[str]:
    """Subscripts other than a logarithm's base (\\log_2 3 is log(3)/log(2) to sympy)."""
    latex = re.sub(r"\\log\s*_\s*(\{[^{}]*\}|\w)", "", latex)
    return sorted(m.strip("{} ") for m in re.findall(r"_\s*(\{[^{}]*\}|\w)", latex))


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
        # "12 or 13", "12 \pm 1": alternatives, unless the question asks for several values, or
        # every alternative is the same right value ("\boxed{A} or equivalently \boxed{A'}").
        if isinstance(cand, Values) and cand.joiner != "," and not multi_valued(gold):
            same = cand.joiner == "or" and all(equivalent(gold, item, self._leaves) for item in cand.items)
            return ("correct" if same else "hedged"), kinds
        return ("correct" if equivalent(gold, cand, self._leaves) else "wrong_answer"), kinds

    def close(self) -> None:
        self._worker.close()


@VERIFIERS.register("math")
def make_math_verifier(timeout_s: float = 5.0) -> MathVerifier:
    return MathVerifier(timeout_s=timeout_s)
