"""Typed final answers: parse an answer string into a kind, then compare per kind.

Kinds: a scalar (number or expression, possibly named: `x = 3`), an equation, an interval or a
union of intervals, a finite set, a tuple/point, an unordered list of values (`2, -2`, `\\pm 3`,
`x = 1 or x = 2`), a matrix, and text. Structure is parsed here, in-process and in linear time;
only the leaves (scalar LaTeX) and equations reach sympy, through the `Leaves` interface, so
structure never depends on what a LaTeX parser guesses.

Rules that used to be string rewrites are per kind now: a thousands separator is part of a
number token, never removed inside a tuple or interval (`(1,100)` is a pair); `x = 3` is a named
value only when the left side is a lone variable, so `2 + 2 = 5` is a false equation, not 5; an
equation compares as an equation (same solution set), never by dropping a side.
"""

from __future__ import annotations

import re
from functools import lru_cache

from verifiers.exact import TooLarge, evaluate
from dataclasses import dataclass, field
from typing import Callable, Protocol

# ---- the kinds -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    latex: str
    name: str = ""  # `x` in `x = 3`
    approx: str = ""  # `0.707` in `\frac{\sqrt2}{2} \approx 0.707`: matches only a reference that is that decimal


@dataclass(frozen=True)
class Equation:
    sides: tuple[str, ...]  # a chain a = b = c


@dataclass(frozen=True)
class Interval:
    lo: str
    hi: str
    lo_closed: bool
    hi_closed: bool
    var: str = field(default="", compare=False)  # x in `x < 3`: `x < 1 or y > 3` is no union


@dataclass(frozen=True)
class Union:
    parts: tuple["Answer", ...]  # intervals and finite sets


@dataclass(frozen=True)
class FiniteSet:
    items: tuple["Answer", ...]


@dataclass(frozen=True)
class Tuple:
    items: tuple["Answer", ...]
    brackets: str  # "()", "[]", "<>"


@dataclass(frozen=True)
class Values:
    items: tuple["Answer", ...]
    joiner: str  # "," for a list; "or" / "pm" for alternatives (hedging if one value is asked)


@dataclass(frozen=True)
class Matrix:
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Text:
    words: str


Answer = Scalar | Equation | Interval | Union | FiniteSet | Tuple | Values | Matrix | Text


def kind_of(answer: Answer) -> str:
    return {Scalar: "scalar", Equation: "equation", Interval: "interval", Union: "union",
            FiniteSet: "set", Tuple: "tuple", Values: "values", Matrix: "matrix", Text: "text"}[type(answer)]


class Unparsable(ValueError):
    """The answer's structure is malformed (unbalanced brackets, an empty item)."""


# ---- cleaning ---------------------------------------------------------------------------------

_SPACES = re.compile(r"(?<!\\)\\(?:[,;: ]|(?:q?quad|displaystyle|textstyle|left|right|big|Big|bigg|Bigg)(?![a-zA-Z]))|~")
_GROUP_SPACE = re.compile(r"(?<=\d)(?:\\[,!]|\{,\}|\\ |~| )(?=\d{3}(?!\d))")  # 10\,000, 11,\!111, 1{,}000
_DECOR = re.compile(r"\\%|%|\\\$|\$")
_DEGREE = r"(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°|\\degree(?![a-zA-Z]))"
_TRIG_DEGREES = re.compile(r"(\\(?:sin|cos|tan|cot|sec|csc)(?:\s*\^\s*\{?\d+\}?)?)\s*\(?\s*(-?\d+(?:\.\d+)?)\s*" + _DEGREE + r"\s*\)?")
_TRAILING_DEGREES = re.compile(r"\s*" + _DEGREE + r"\s*$")
# TeX's one-token arguments: \frac12, \frac{\pi}2, \sqrt2, \sqrt x
_FRAC_DIGITS = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])")
_FRAC_HEAD_DIGIT = re.compile(r"\\frac\s*([0-9a-zA-Z])\s*(?=\{)")
_FRAC_TAIL_DIGIT = re.compile(r"\\frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])")
_SQRT_BARE = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
# "for k ∈ ℤ", ", where k is an integer": the parameter of a family of solutions, not a value
_FAMILY_PARAMETER = re.compile(r"[,;]? ?(?:\\text\{ ?(?:for|where)(?: all)? ?\}|\b(?:for|where)(?: all)?\b)? ?"
                               r"(?:\\text\{ ?)?\b[kn] ?(?:\\in ?\\mathbb ?\{?Z\}?|\\in ?ℤ|\}? ?is an integer\}?"
                               r"|\\text\{ ?is an integer ?\})$")
_ANSWER_PREFIX = re.compile(r"^(?:\\text\{\s*)?(?:final\s+)?answer\s*:\s*\}?\s*", re.IGNORECASE)
_FONT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|textnormal|mbox|operatorname|boldsymbol)\s*\{([^{}]*)\}")


_UNICODE = {"\u2212": "-", "∞": "\\infty ", "π": "\\pi ", "×": "\\times ", "÷": "\\div ", "·": "\\cdot ",
            "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne "}
_ROOT_SIGN = re.compile(r"√\s*(\{[^{}]*\}|\([^()]*\)|\d+(?:\.\d+)?|[A-Za-z])")


def _unicode_math(s: str) -> str:
    """√2, 3√2, (-∞, 3), 2π: Unicode math symbols as LaTeX (look-alike letters are refused elsewhere)."""
    for char, latex in _UNICODE.items():
        s = s.replace(char, latex)
    return _ROOT_SIGN.sub(lambda m: "\\sqrt{" + m.group(1).strip("{}()") + "}", s)


@lru_cache(maxsize=65536)  # pure, and called on the same strings many times per comparison
def clean(answer: str) -> str:
    """Form-only rewrites that never change a value."""
    s = _unicode_math(re.sub(r"\s+", " ", answer))  # one space per run first: no regex below backtracks on runs
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("\\langle", "⟨").replace("\\rangle", "⟩")
    s = s.replace("\\lvert", "|").replace("\\rvert", "|").replace("\\vert", "|").replace("\\mid", "|")
    s = s.replace("\\leqslant", "\\le").replace("\\geqslant", "\\ge").replace("\\!", "")
    s = _GROUP_SPACE.sub(",", s.replace("{,}", ","))
    s = _FRAC_DIGITS.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HEAD_DIGIT.sub(r"\\frac{\1}", s)
    s = _FRAC_TAIL_DIGIT.sub(r"\\frac\1{\2}", s)
    s = _SQRT_BARE.sub(r"\\sqrt{\1}", s)
    s = re.sub(r"\\sqrt\s*\[([^\]]*)\]\s*([0-9a-zA-Z])", r"\\sqrt[\1]{\2}", s)  # \sqrt[3] 8
    s = s.replace("\\bar{", "\\overline{")  # 0.\bar{3}
    while (inner := re.fullmatch(r"\s*\\(?:boxed|fbox)\s*\{(.*)\}\s*", s, re.S)):
        s = inner.group(1)
    s = _TRIG_DEGREES.sub(r"\1(\2 \\cdot \\frac{\\pi}{180})", s)  # \cos 60^\circ is 1/2
    s = _TRAILING_DEGREES.sub("", _DECOR.sub("", _SPACES.sub(" ", s)))
    s = re.sub(r"\s*(?:\\text\{\s*percent\s*\}|\bpercent\b)\s*$", "", s)  # 25 percent is 25\%
    s = re.sub(r"\\math(?:rm|it)\s*\{\s*([ei])\s*\}", r"\1", s)  # \mathrm{i}, \mathrm{e}: constants, not units
    s = re.sub(r"(?<![\\a-zA-Z])\\(?=\d)", "", s)  # \15: a currency sign that lost its $
    s = _FAMILY_PARAMETER.sub("", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    whole = _FONT.fullmatch(s)  # \text{A, D}: the whole answer wrapped as text
    s = whole.group(1).strip() if whole else s
    return _ANSWER_PREFIX.sub("", s)  # \text{Answer: } 5


# ---- top-level scanning -------------------------------------------------------------------------

_OPEN, _CLOSE = "([{⟨", ")]}⟩"


def _depths(s: str) -> list[int]:
    """Bracket depth before each character; raises Unparsable if brackets do not balance.
    Interval brackets may be mixed ( [0,1) ), so every opener counts the same."""
    out, depth = [], 0
    for ch in s:
        if ch in _CLOSE:
            depth -= 1
            if depth < 0:
                raise Unparsable("unbalanced brackets")
        out.append(depth)
        if ch in _OPEN:
            depth += 1
    if depth:
        raise Unparsable("unbalanced brackets")
    return out


def split_top(s: str, sep: re.Pattern[str]) -> list[str]:
    """Split at matches of `sep` that are not inside brackets (or \\{ \\})."""
    depths = _depths(s)
    pieces, start = [], 0
    for m in sep.finditer(s):
        if depths[m.start()] == 0 and m.start() >= start:
            pieces.append(s[start:m.start()])
            start = m.end()
    pieces.append(s[start:])
    return [p.strip() for p in pieces]


def _wrapped(s: str, opener: str, closer: str) -> str | None:
    """The inside of s when s is exactly one bracket group opener...closer."""
    if not (s.startswith(opener) and s.endswith(closer)) or len(s) < len(opener) + len(closer):
        return None
    inner = s[len(opener):len(s) - len(closer)]
    try:
        depths = _depths(inner)
    except Unparsable:
        return None
    if opener == "\\{" and re.search(r"(?<!\\)[{}]", "".join(c if d == 0 else " " for c, d in zip(inner, depths))):
        return None
    return inner


# ---- parsing ----------------------------------------------------------------------------------

_COMMA = re.compile(r",")
_SEMI = re.compile(r";")
_CUP = re.compile(r"\\cup(?![a-zA-Z])|∪|(?<=[\])])\s*U\s*(?=[(\[])")
_OR = re.compile(r"\\text\{\s*or\s*\}|\bor\b|\\(?:lor|vee)(?![a-zA-Z])")
_AND = re.compile(r"\\text\{\s*and\s*\}|\band\b|\\(?:land|wedge)(?![a-zA-Z])")
_PM = re.compile(r"\\pm(?![a-zA-Z])|±|\\mp(?![a-zA-Z])|∓")
_REL = re.compile(r"\\(?:leq|geq|le|ge|lt|gt|neq|ne)(?![a-zA-Z])|≤|≥|≠|<|>|(?<![<>!:\\])=|\\approx(?![a-zA-Z])|≈|\\in(?![a-zA-Z])")
_REL_NAMES = {"\\leq": "<=", "\\le": "<=", "≤": "<=", "\\geq": ">=", "\\ge": ">=", "≥": ">=", "\\lt": "<",
              "<": "<", "\\gt": ">", ">": ">", "\\neq": "!=", "\\ne": "!=", "≠": "!=", "=": "=",
              "\\approx": "~", "≈": "~", "\\in": "in"}
_GROUPED_NUMBER = re.compile(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_LONE_SYMBOL = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?'*|\\(?:alpha|beta|gamma|delta|theta|lambda|mu|phi|varphi|psi|omega|rho|sigma|tau)"
                          r"|(?!(?:sin|cos|tan|cot|sec|csc|log|ln|exp|sqrt|arcsin|arccos|arctan|sinh|cosh|tanh|lcm|gcd|max|min)\()"
                          r"[A-Za-z]\w*\([^()=<>]*\)"  # f(x), I(6,3), E(2020, 1993): a named value; log(100) is not
                          r"|[A-Z]{2,3}|(?:m\s*)?\\angle\s*[A-Z]{1,3}|\\Pr\s*\([^()=]*\)|[A-Za-z]\^\{-1\}\s*\([a-z]\)")
_MATRIX = re.compile(r"\\begin\{([pbB]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}", re.S)  # vmatrix: a determinant
_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_UNIT = re.compile(r"(?:\s+|(?=\\))(?:\\(?:text|mathrm|mbox|textnormal)\s*\{\s*([A-Za-z][A-Za-z ./]*?)\s*\}|([A-Za-z]{2,}(?:[ /][A-Za-z]+)*\.?))"
                   r"(?:\s*\^\s*\{?-?\d\}?)?$")
_SINGLE_LETTER_UNITS = re.compile(r"(?<=\d)\s+(?:m|g|s|h|l|L|K|J|N|W|V|A)(?:\s*\^\s*\{?-?\d\}?)?$")
_NUMBERISH = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:\s*/\s*\d+)?|\\frac\{[^{}]*\}\{[^{}]*\}")


@lru_cache(maxsize=65536)  # pure (answers are frozen): a problem's reference is parsed once, not per sample
def parse(answer: str, depth: int = 0) -> Answer:
    """The typed form of a final answer. Raises Unparsable on malformed structure."""
    if depth > 20:
        raise Unparsable("nested too deeply")
    s = clean(answer)
    if not s:
        raise Unparsable("empty")
    m = _MATRIX.fullmatch(s)
    if m:
        return _matrix(m.group(2))
    for parse_kind in (_union, _alternatives, _pm_values, _list, _relation, _bracketed):
        parsed = parse_kind(s, depth)
        if parsed is not None:
            return parsed
    return _leaf(s)


def _union(s: str, depth: int) -> Answer | None:
    parts = split_top(s, _CUP)
    if len(parts) == 1:
        return None
    return Union(tuple(parse(p, depth + 1) for p in _nonempty(parts)))


def _alternatives(s: str, depth: int) -> Answer | None:
    """`x < -1 or x > 2` is a union of sets; `x = 2 or x = 3` is a list of alternatives;
    `x > 1 and x < 3` is the interval both bound (an intersection, never a union)."""
    for joiner, pattern in (("or", _OR), ("and", _AND)):
        parts = split_top(s, pattern)
        if len(parts) == 1:
            continue
        items = tuple(parse(p.strip(" ,"), depth + 1) for p in _nonempty([p.strip(" ,") for p in parts]))
        if all(isinstance(i, (Interval, Union)) for i in items):
            if len({v for i in items for v in _variables(i)}) > 1:
                raise Unparsable("inequalities in different variables")  # x > 1 and y < 3 is no interval
            return Union(items) if joiner == "or" else _intersection(items)
        return Values(items, "or" if joiner == "or" else ",")  # x = 1 and y = 2 lists; 12 or 13 hedges
    return None


def _variables(answer: Answer) -> set[str]:
    parts = answer.parts if isinstance(answer, Union) else (answer,)
    return {p.var for p in parts if isinstance(p, Interval) and p.var}


def _intersection(items: tuple[Answer, ...]) -> Interval:
    """Half-bounded intervals of one variable, one bounding each side: x > 1 and x <= 3."""
    lows = [i for i in items if isinstance(i, Interval) and i.hi == "\\infty" and i.lo != "-\\infty"]
    highs = [i for i in items if isinstance(i, Interval) and i.lo == "-\\infty" and i.hi != "\\infty"]
    if len(items) != 2 or len(lows) != 1 or len(highs) != 1:
        raise Unparsable("an intersection other than one lower and one upper bound")
    lo, hi = lows[0], highs[0]
    try:
        a, b = evaluate(lo.lo), evaluate(hi.hi)
    except TooLarge:
        a = b = None
    if a is not None and b is not None and (a > b or (a == b and not (lo.lo_closed and hi.hi_closed))):
        raise Unparsable("an empty intersection")  # x < 1 and x > 3
    return Interval(lo.lo, hi.hi, lo.lo_closed, hi.hi_closed, lo.var)


def _pm_values(s: str, depth: int) -> Answer | None:
    parts = split_top(s, _PM)
    if len(parts) != 2 or split_top(s, _COMMA) != [s] or split_top(s, _REL) != [s]:
        return None
    head, tail = parts
    plus = f"{head}+({tail})" if head else f"{tail}"
    minus = f"{head}-({tail})" if head else f"-({tail})"
    return Values((parse(plus, depth + 1), parse(minus, depth + 1)), "pm")


def _list(s: str, depth: int) -> Answer | None:
    parts = split_top(s, _COMMA)
    if len(parts) == 1:
        parts = split_top(s, _SEMI)
    if len(parts) == 1 or _GROUPED_NUMBER.fullmatch(s):
        return None
    items: list[Answer] = []
    for part in _nonempty(parts):
        item = parse(part, depth + 1)
        items.extend(item.items if isinstance(item, Values) and item.joiner == "pm" else [item])  # ±1, ±7
    return Values(tuple(items), ",")


def _relation(s: str, depth: int) -> Answer | None:
    sides = split_top(s, _REL)
    if len(sides) == 1:
        return None
    depths = _depths(s)
    ops = [_REL_NAMES[m.group(0)] for m in _REL.finditer(s) if depths[m.start()] == 0]
    _nonempty(sides)
    # A decimal approximation after an exact value is commentary: `\frac{\sqrt2}{2} \approx 0.707`.
    approx = ""
    if ops and ops[-1] == "~" and re.fullmatch(r"-?\d*\.\d+", sides[-1]):
        ops.pop()
        approx = sides.pop()
    if not ops:
        value = parse(sides[0], depth + 1)
        return Scalar(value.latex, value.name, approx) if isinstance(value, Scalar) else value
    if "~" in ops:
        raise Unparsable("an approximation inside a chain")
    if ops == ["in"]:
        return parse(sides[1], depth + 1)
    if set(ops) == {"="}:
        named = _named_tuple(sides, depth) if len(sides) == 2 else None
        if named is not None:
            return named
        if len(sides) == 2 and _LONE_SYMBOL.fullmatch(sides[0]):
            value = parse(sides[1], depth + 1)
            return Scalar(value.latex, sides[0]) if isinstance(value, Scalar) else value
        return Equation(tuple(sides))
    return _inequality(sides, ops)


def _named_tuple(sides: list[str], depth: int) -> Answer | None:
    """(f(n), g(n)) = (n, 1): several named values, the same as f(n) = n, g(n) = 1."""
    names, values = (_wrapped(side, "(", ")") for side in sides)
    if names is None or values is None:
        return None
    names_list, values_list = split_top(names, _COMMA), split_top(values, _COMMA)
    if len(names_list) < 2 or len(names_list) != len(values_list) or not all(_LONE_SYMBOL.fullmatch(n) for n in names_list):
        return None
    items = [parse(f"{n} = {v}", depth + 1) for n, v in zip(names_list, values_list)]
    return Values(tuple(items), ",")


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "!=": "!="}


def _inequality(sides: list[str], ops: list[str]) -> Answer:
    """One lone variable with bounds: x < 3, -1 < x <= 2, 5 >= x, x != 0."""
    lone = [i for i, side in enumerate(sides) if _LONE_SYMBOL.fullmatch(side)]
    if len(lone) != 1 or "=" in ops or "in" in ops:
        raise Unparsable("not an inequality in one variable")
    var = lone[0]
    name = sides[var]
    lo, hi = ("-\\infty", False), ("\\infty", False)
    for i, op in enumerate(ops):
        left, right = sides[i], sides[i + 1]
        if i + 1 == var:  # bound  op  x  →  x  flip(op)  bound
            op, bound = _FLIP[op], left
        elif i == var:
            bound = right
        else:
            raise Unparsable("a chain that does not bound the variable")
        if op == "!=":
            if len(ops) != 1:
                raise Unparsable("!= in a chain")
            return Union((Interval("-\\infty", bound, False, False, name), Interval(bound, "\\infty", False, False, name)))
        if op in ("<", "<="):
            hi = (bound, op == "<=")
        else:
            lo = (bound, op == ">=")
    return Interval(lo[0], hi[0], lo[1], hi[1], name)


def _bracketed(s: str, depth: int) -> Answer | None:
    inner = _wrapped(s, "\\{", "\\}")
    if inner is not None:
        items = split_top(inner, _COMMA) if inner.strip() else []
        return FiniteSet(tuple(parse(p, depth + 1) for p in _nonempty(items)))
    if s in ("\\emptyset", "\\varnothing", "∅"):
        return FiniteSet(())
    if s in ("\\mathbb{R}", "\\mathbb R", "ℝ"):
        return Interval("-\\infty", "\\infty", False, False)
    if s[:1] in "([⟨" and s[-1:] in ")]⟩":
        inner = s[1:-1]
        try:
            _depths(inner)
        except Unparsable:
            return None  # (a)+(b): the first bracket closes before the end
        items = split_top(inner, _COMMA)
        if len(items) == 1:
            if s[0] + s[-1] != "()":
                return None
            while (unwrapped := _wrapped(inner.strip(), "(", ")")) is not None:  # ((((1)))) is 1
                inner = unwrapped
            return parse(inner, depth + 1)
        parsed = [parse(p, depth + 1) for p in _nonempty(items)]
        if all(isinstance(i, Scalar) and i.name for i in parsed):  # (f(n) = n, g(n) = 1): a system
            return Values(tuple(parsed), ",")
        if s[0] == "⟨" or s[-1] == "⟩":
            return Tuple(tuple(parse(p, depth + 1) for p in _nonempty(items)), "<>")
        if len(items) == 2 and s[0] + s[-1] != "()":  # [a, b], (a, b], [a, b): intervals
            return Interval(*_nonempty(items), s[0] == "[", s[-1] == "]")
        return Tuple(tuple(parse(p, depth + 1) for p in _nonempty(items)), s[0] + s[-1])
    return None


def _matrix(body: str) -> Matrix:
    rows = [r for r in re.split(r"\\\\(?:\[[^\]]*\])?|\\cr(?![a-zA-Z])", body) if r.strip() and not r.strip() == "\\hline"]
    cells = tuple(tuple(clean(c) for c in row.replace("\\hline", "").split("&")) for row in rows)
    if not cells or any(len(r) != len(cells[0]) for r in cells) or any(not c for r in cells for c in r):
        raise Unparsable("ragged or empty matrix")
    return Matrix(cells)


def _leaf(s: str) -> Answer:
    if re.search(r"\\frac\s*\{\s*d[a-z]?\s*\}\s*\{\s*d[a-z]\s*\}", s):
        raise Unparsable("derivative notation is an operation, not a value")
    # A sentence around a number is not a value ("at least 7", "7 squared", "12 is not right"):
    # only unit words after it are dropped (_strip_units), never words that change it.
    s = _strip_units(s)
    words = _FONT.sub(r"\1", s).strip()
    if re.search(r"(?<![_^\d])\d+\s+\d", s) and not _GROUPED_NUMBER.fullmatch(s):
        raise Unparsable("digits separated by spaces")  # `1 2` is not 12
    if _WORDS.fullmatch(words) and re.search(r"[A-Za-z]{2,}", words) and not _is_math_word(words):
        return Text(re.sub(r"[\s-]+", " ", words.lower()).strip())
    if _GROUPED_NUMBER.fullmatch(s):
        s = s.replace(",", "")
    return Scalar(s)


_MATH_WORDS = re.compile(r"\\?(?:sin|cos|tan|cot|sec|csc|log|ln|exp|sqrt|pi|arcsin|arccos|arctan|sinh|cosh|tanh)")


def _is_math_word(words: str) -> bool:
    return bool(re.search(r"\\", words)) or bool(_MATH_WORDS.match(words))


# Words that change a value, or say something about it, are never units.
_NOT_UNITS = re.compile(r"\b(?:not|no|is|are|was|isn't|wrong|incorrect|false|true|rejected|invalid|approx\w*|about|"
                        r"squared|cubed|thousands?|millions?|billions?|trillions?|hundreds?|dozens?|times|factorial|"
                        r"root|of|over|plus|minus|negative|positive|less|more|least|most|than|at|or|and|otherwise|"
                        r"halves|halved|thirds?|quarters?|fourths?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?|"
                        r"\w+ths|tens|dozens?|scores?|gross|pairs?|couples?|doubled?|tripled?|quadrupled?|"
                        r"divided|multiplied|added|subtracted|repeating|recurring|reciprocal|inverse|"
                        r"pi|e|i|sin|cos|tan|log|ln|exp|sqrt|mod|modulo|base|power|to|the|if|only|either|neither)\b",
                        re.IGNORECASE)
_COMPOUND_UNIT = re.compile(r"(?:\s*(?:/|\\cdot)?\s*\\(?:text|mathrm|mbox|textnormal)\s*\{\s*[A-Za-z][A-Za-z .]*\}"
                            r"(?:\s*\^\s*\{?-?\d\}?)?)+$")


def _strip_units(s: str) -> str:
    """`5 \\text{ cm}^2`, `12 apples`, `3 m`, `5 \\text{ m}/\\text{s}`: units after a value are not
    converted, only dropped; words that change or comment on the value are not units."""
    for _ in range(3):
        m = _COMPOUND_UNIT.search(s) or _UNIT.search(s) or _SINGLE_LETTER_UNITS.search(s)
        if not m:
            break
        head, unit = s[:m.start()].strip(), m.group(0).strip()
        wrapped = unit.startswith(("\\", "/"))  # \text{ square inches}: clearly not a variable
        words = _FONT.sub(r"\1", unit)
        if (not head or _NOT_UNITS.search(words) or (wrapped and len(re.sub(r"[^A-Za-z]", "", words)) < 2
                                                     and not _SINGLE_LETTER_UNITS.search("1 " + words.strip()))
                or not (wrapped or _NUMBERISH.fullmatch(head.lstrip("\\$")))):
            break
        s = head
    return s


def _nonempty(items: list[str]) -> list[str]:
    if any(not i.strip() for i in items):
        raise Unparsable("an empty item")
    return items


# ---- comparing --------------------------------------------------------------------------------


class Leaves(Protocol):
    """Exact comparison of leaves, implemented with sympy behind a time bound."""

    def scalars_equal(self, a: str, b: str) -> bool: ...

    def equations_equal(self, a: tuple[str, str], b: tuple[str, str]) -> bool: ...

    def rounds_to(self, exact: str, decimal: str) -> bool: ...


Compare = Callable[[Answer, Answer, Leaves], bool]
_RULES: dict[tuple[type, type], Compare] = {}


def rule(gold: type, cand: type) -> Callable[[Compare], Compare]:
    def register(fn: Compare) -> Compare:
        _RULES[(gold, cand)] = fn
        return fn
    return register


def equivalent(gold: Answer, cand: Answer, leaves: Leaves) -> bool:
    """Does the candidate state the same mathematical object as the gold answer?"""
    if gold == cand:
        return True
    compare = _RULES.get((type(gold), type(cand)))
    return bool(compare and compare(gold, cand, leaves))


@rule(Scalar, Scalar)
def _scalars(g: Scalar, c: Scalar, leaves: Leaves) -> bool:
    if g.name and c.name and _name(g) != _name(c):
        return False  # x = 2 is not y = 2
    if leaves.scalars_equal(g.latex, c.latex):
        return True
    # GRADING: a rounded decimal counts only when the reference is that decimal.
    return (bool(c.approx) and bool(re.fullmatch(r"-?\d*\.\d+", g.latex)) and leaves.scalars_equal(g.latex, c.approx)
            and leaves.rounds_to(c.latex, c.approx))


@rule(Scalar, Equation)
def _value_vs_chain(g: Scalar, c: Equation, leaves: Leaves) -> bool:
    """`2 \\cdot 3 = 6` states 6; `2 + 2 = 5` is false, whatever its right side. Every side
    that is not a lone variable must equal the gold value."""
    if g.name and len(c.sides) == 2 and leaves.equations_equal((g.name, g.latex), (c.sides[0], c.sides[1])):
        return True
    values = [side for side in c.sides if not _LONE_SYMBOL.fullmatch(side)]
    return bool(values) and all(leaves.scalars_equal(g.latex, v) for v in values)


@rule(Equation, Scalar)
def _named_vs_equation(g: Equation, c: Scalar, leaves: Leaves) -> bool:
    return bool(c.name) and len(g.sides) == 2 and leaves.equations_equal((g.sides[0], g.sides[1]), (c.name, c.latex))


@rule(Equation, Equation)
def _equations(g: Equation, c: Equation, leaves: Leaves) -> bool:
    if len(g.sides) != 2 or len(c.sides) != 2:
        return len(g.sides) == len(c.sides) and all(leaves.scalars_equal(a, b) for a, b in zip(g.sides, c.sides))
    return leaves.equations_equal((g.sides[0], g.sides[1]), (c.sides[0], c.sides[1]))


@rule(Interval, Interval)
def _intervals(g: Interval, c: Interval, leaves: Leaves) -> bool:
    return ((g.lo_closed, g.hi_closed) == (c.lo_closed, c.hi_closed)
            and leaves.scalars_equal(g.lo, c.lo) and leaves.scalars_equal(g.hi, c.hi))


def _pair_as_interval(t: Tuple) -> Interval | None:
    """`(a, b)` is a point or an open interval; the other answer decides which."""
    if t.brackets != "()" or len(t.items) != 2 or not all(isinstance(i, Scalar) and not i.name for i in t.items):
        return None
    return Interval(t.items[0].latex, t.items[1].latex, False, False)  # type: ignore[union-attr]


@rule(Tuple, Interval)
def _pair_vs_interval(g: Tuple, c: Interval, leaves: Leaves) -> bool:
    as_interval = _pair_as_interval(g)
    return as_interval is not None and _intervals(as_interval, c, leaves)


@rule(Interval, Tuple)
def _interval_vs_pair(g: Interval, c: Tuple, leaves: Leaves) -> bool:
    as_interval = _pair_as_interval(c)
    return as_interval is not None and _intervals(g, as_interval, leaves)


@rule(Tuple, Tuple)
def _tuples(g: Tuple, c: Tuple, leaves: Leaves) -> bool:
    same_brackets = g.brackets == c.brackets or {g.brackets, c.brackets} <= {"()", "<>"}
    return same_brackets and len(g.items) == len(c.items) and all(
        equivalent(a, b, leaves) for a, b in zip(g.items, c.items))


def _matched(gold: tuple[Answer, ...], cand: tuple[Answer, ...], leaves: Leaves, by_name: bool = False) -> bool:
    """Unordered: every gold item pairs with its own candidate item (with the same name, if asked)."""
    if len(gold) != len(cand):
        return False
    left = list(cand)
    for g in gold:
        hit = next((i for i, c in enumerate(left) if (not by_name or _name(g) == _name(c)) and equivalent(g, c, leaves)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def _unordered(g: Values | FiniteSet, c: Values | FiniteSet, leaves: Leaves) -> bool:
    if _is_system(g) and _is_system(c):  # f(n) = n, g(n) = 1: each value with its own name
        return _matched(g.items, c.items, leaves, by_name=True)
    if _is_system(g) or _is_system(c):  # x=3, y=4 against a bare list: in the names' order
        return _in_order(_by_name(g), _by_name(c), leaves)
    if _matched(g.items, c.items, leaves):
        return True
    # A reference that lost its grouping (a flat list) against values grouped in sets: compare
    # the values. Never the other way: a grouped reference needs the grouping.
    flat_c = _flat(c.items)
    return _flat(g.items) == g.items and flat_c != c.items and _matched(g.items, flat_c, leaves)


_COORDINATES = ("xyz", "abc", "pqr", "uvw", "fgh")


def _by_name(answer: Values | FiniteSet | Tuple) -> tuple[Answer, ...]:
    """A system's values in the conventional order of coordinate names (y = 4, x = 3 is the point
    (3, 4)); other names in the order written ((m, b) = (2, 3) is not m = 3, b = 2)."""
    if isinstance(answer, (Values, FiniteSet)) and _is_system(answer):
        names = [_name(i) for i in answer.items]
        for order in _COORDINATES:
            if set(names) <= set(order):
                return tuple(sorted(answer.items, key=lambda i: order.index(_name(i))))
    return answer.items


def _in_order(gold: tuple[Answer, ...], cand: tuple[Answer, ...], leaves: Leaves) -> bool:
    strip = lambda a: Scalar(a.latex) if isinstance(a, Scalar) else a  # noqa: E731  (names compared already)
    return len(gold) == len(cand) and all(equivalent(strip(a), strip(b), leaves) for a, b in zip(gold, cand))


def _is_system(answer: Values | FiniteSet) -> bool:
    """Values of several distinct names (x = 3, y = 4); `x = 2 or x = -2` is a list for one name."""
    names = [_name(i) for i in answer.items]
    return len(names) > 1 and all(names) and len(set(names)) == len(names)


def _flat(items: tuple[Answer, ...]) -> tuple[Answer, ...]:
    return tuple(x for i in items for x in (i.items if isinstance(i, FiniteSet) else (i,)))


def _name(answer: Answer) -> str:
    """The name a value is given; y and f(x) name the same thing (a graph y = f(x))."""
    name = re.sub(r"\s+", "", answer.name) if isinstance(answer, Scalar) else ""
    return "y" if re.fullmatch(r"[a-z]\(x\)", name) else name


@rule(Values, Tuple)
def _list_vs_tuple(g: Values, c: Tuple, leaves: Leaves) -> bool:
    """A bare list against a tuple of the same values: equal only in the same order, which is
    right whether the list meant a set or a tuple; a system (x=3, y=4) in its names' order."""
    return g.joiner == "," and _in_order(_by_name(g), c.items, leaves)


@rule(Tuple, Values)
def _tuple_vs_list(g: Tuple, c: Values, leaves: Leaves) -> bool:
    return c.joiner == "," and _in_order(g.items, _by_name(c), leaves)


for _g in (Values, FiniteSet):
    for _c in (Values, FiniteSet):
        rule(_g, _c)(_unordered)


@rule(Union, Union)
def _unions(g: Union, c: Union, leaves: Leaves) -> bool:
    return _matched(g.parts, c.parts, leaves)


@rule(Interval, Union)
def _interval_vs_union(g: Interval, c: Union, leaves: Leaves) -> bool:
    return len(c.parts) == 1 and equivalent(g, c.parts[0], leaves)


@rule(Union, Interval)
def _union_vs_interval(g: Union, c: Interval, leaves: Leaves) -> bool:
    return len(g.parts) == 1 and equivalent(g.parts[0], c, leaves)


@rule(Matrix, Matrix)
def _matrices(g: Matrix, c: Matrix, leaves: Leaves) -> bool:
    shape = (len(g.rows), len(g.rows[0]))
    return shape == (len(c.rows), len(c.rows[0])) and all(
        equivalent(parse(a), parse(b), leaves) for ra, rb in zip(g.rows, c.rows) for a, b in zip(ra, rb))


@rule(Text, Text)
def _texts(g: Text, c: Text, leaves: Leaves) -> bool:
    return g.words == c.words


def multi_valued(answer: Answer) -> bool:
    """Gold answers that ask for several values: alternatives in a candidate are then not hedging."""
    return isinstance(answer, (Values, FiniteSet, Union))
