"""The fast LaTeX parser reads its subset as latex2sympy does (so two sides parsed by different
parsers compare alike), exactly (decimals as rationals), and refuses the rest."""

from __future__ import annotations

import pytest
import sympy
from latex2sympy2_extended import latex2sympy

from verifiers.latex_fast import Unsupported, parse_fast

SAME_AS_LATEX2SYMPY = [
    "\\frac{\\sqrt{3}}{2}", "2x+1", "\\sqrt[3]{8}", "x^2+y^2", "e^{x}", "\\binom{5}{2}", "2\\cdot 3", "3\\frac{1}{2}",
    "-3\\frac{1}{2}", "2\\pi", "\\frac{1}{2}x", "x(x+1)", "\\frac{21}{2}\\pi", "5!", "(x+1)^{20}", "\\sin(x)",
    "\\cos{2x}", "X+x", "3\\sqrt{2}", "\\frac{d!}{2 (d-k)! k}", "2^10", "x^{a+1}", "\\frac{x^2-1}{x+1}",
    "4\\times 5 \\div 2", "-(x-1)^{3}", "\\tan(\\frac{\\pi}{4})", "\\exp(2)", "10^{-3}", "2^{-2/3}",
]


@pytest.mark.parametrize("latex", SAME_AS_LATEX2SYMPY)
def test_same_reading_as_latex2sympy(latex):
    from verifiers.math import _CASE_SENSITIVE

    assert sympy.simplify(parse_fast(latex) - latex2sympy(latex, conversion_config=_CASE_SENSITIVE())) == 0


@pytest.mark.parametrize("latex,value", [
    ("1.41421", sympy.Rational(141421, 100000)), ("0.5", sympy.Rational(1, 2)), (".25", sympy.Rational(1, 4)),
    ("3+4i", 3 + 4 * sympy.I), ("\\infty", sympy.oo), ("10.5\\pi", sympy.Rational(21, 2) * sympy.pi),
])
def test_exact_values(latex, value):
    assert parse_fast(latex) == value


@pytest.mark.parametrize("latex", ["\\sin x", "\\log_{10}(2)", "|x|", "x_1 + 1", "5!!", "\\frac{1}{0}", "\\lfloor x \\rfloor",
                                   "a^b^c", "\\{1\\}"])
def test_outside_the_subset_is_refused(latex):
    with pytest.raises(Unsupported):
        parse_fast(latex)


def test_huge_powers_stay_unevaluated():
    assert not parse_fast("2^{100000}").is_Integer  # built lazily: the bounded worker decides, never the parser
