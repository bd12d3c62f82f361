"""Exact evaluation of plain arithmetic answers (integers, decimals, fractions, mixed numbers,
repeating decimals, powers, factorials) as Python Fractions.

This is the verifier's fast path and also its guard against float rounding: `1/2004!` and
`1/2006!` differ exactly even where a float comparison calls them equal (Math-Verify #14).
Anything with symbols returns None and goes to math-verify. Sizes are capped so that
`10^(10^10)` fails at once instead of exhausting memory."""

from __future__ import annotations

import math
import re
from fractions import Fraction

MAX_DIGITS = 100_000
MAX_FACTORIAL = 10_000


class TooLarge(ValueError):
    """The exact value would exceed the size cap."""


_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:\\overline\{\d+\}|[eE][-+]?\d{1,4}(?![\d.]))?)"
                    r"|(?P<frac>\\[dt]?frac)"
                    r"|(?P<op>\*\*|[-+*/^!(){}])|(?P<cmd>\\cdot|\\times|\\div))")


def _tokens(text: str) -> list[str] | None:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            return None
        tok = m.group(m.lastgroup)
        out.append({"\\cdot": "*", "\\times": "*", "\\div": "/", "**": "^"}.get(tok, tok))
        pos = m.end()
    return out


def _number(tok: str) -> Fraction:
    m = re.fullmatch(r"(\d*)\.?(\d*)\\overline\{(\d+)\}", tok)
    if m:  # a.b(ccc) repeating: a.b + ccc / (10^len(b) * (10^len(c) - 1))
        whole, fixed, rep = m.groups()
        base = Fraction(int(whole or 0)) + (Fraction(int(fixed), 10 ** len(fixed)) if fixed else 0)
        return base + Fraction(int(rep), 10 ** len(fixed) * (10 ** len(rep) - 1))
    return Fraction(tok)


def _check_size(a: Fraction, b: Fraction) -> None:
    """A sum or product of two values is at most about as large as both together: refuse
    before computing it (40 factors of 10^99999 would otherwise take tens of seconds)."""
    if _digits(a) + _digits(b) > MAX_DIGITS:
        raise TooLarge("value too large")


def _digits(value: Fraction) -> float:
    n, d = abs(value.numerator), value.denominator
    return (math.log10(n) if n else 0) + math.log10(d)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected!r}")
        self.i += 1
        return tok

    def expr(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            op, rhs = self.take(), self.term()
            _check_size(value, rhs)
            value = value + rhs if op == "+" else value - rhs
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op, rhs = self.take(), self.unary()
            if op == "/" and rhs == 0:
                raise ValueError("division by zero")
            _check_size(value, rhs)
            value = value * rhs if op == "*" else value / rhs
        return value

    def unary(self) -> Fraction:
        if self.peek() in ("-", "+"):
            sign = -1 if self.take() == "-" else 1
            return sign * self.unary()
        return self.power()

    def power(self) -> Fraction:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        exp = self.unary()
        if exp.denominator != 1:
            raise ValueError("non-integer exponent")
        if base not in (0, 1, -1) and _digits(base) * abs(exp.numerator) > MAX_DIGITS:
            raise TooLarge("power too large")
        if base == 0 and exp < 0:
            raise ValueError("division by zero")
        return base ** int(exp)

    def postfix(self) -> Fraction:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            double = self.peek() == "!"  # 5!! is the double factorial 5·3·1, not (5!)!
            if double:
                self.take()
            if value.denominator != 1 or value < 0:
                raise ValueError("factorial of a non-natural number")
            if value > MAX_FACTORIAL:
                raise TooLarge("factorial too large")
            n = int(value)
            value = Fraction(math.prod(range(n, 0, -2)) if double else math.factorial(n))
        return value

    def atom(self) -> Fraction:
        tok = self.take()
        if tok in ("(", "{"):
            value = self.expr()
            self.take(")" if tok == "(" else "}")
            return value
        if tok.startswith("\\") and tok.endswith("frac"):
            return self._frac()
        if tok[0].isdigit() or tok[0] == ".":
            value = _number(tok)
            if self.peek() in ("\\frac", "\\dfrac", "\\tfrac") and value.denominator == 1:
                self.take()
                return value + self._frac()  # mixed number 1\frac{1}{2}
            return value
        raise ValueError(f"unexpected {tok!r}")

    def _frac(self) -> Fraction:
        self.take("{")
        num = self.expr()
        self.take("}")
        self.take("{")
        den = self.expr()
        self.take("}")
        if den == 0:
            raise ValueError("division by zero")
        return num / den


def evaluate(text: str) -> Fraction | None:
    """The exact value of a plain arithmetic expression, None if it is not one.
    Raises TooLarge when the value would exceed the size cap."""
    tokens = _tokens(text)
    if not tokens:
        return None
    parser = _Parser(tokens)
    try:
        value = parser.expr()
    except (ValueError, ZeroDivisionError, OverflowError, RecursionError) as exc:
        if isinstance(exc, TooLarge):
            raise
        return None
    return value if parser.peek() is None else None
