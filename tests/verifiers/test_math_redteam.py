"""The math verifier against a red-team table (tests/verifiers/math_redteam.py): 81 answers
built to pass wrongly through every leniency in the source, and 80 unusual but correct forms.
Target: no false pass at all; the correct forms pass, except the documented limits below."""

from __future__ import annotations

import pytest

from schemas import Problem
from tests.verifiers.math_redteam import CASES
from verifiers.math import MathVerifier

# Correct forms that still fail (stricter than needed, never a false pass). Each is a reading
# the verifier declines: words around a number, set-builder notation, a number-word gloss.
KNOWN_LIMITS = {
    "prose negative": "'negative 7' is a sentence, not a value",
    "prose: 'negative 12' is -12 (false fail today)": "words around a number are not read",
    "set-builder notation": "{x | x > 2} is not parsed as a set",
    "temperature": "-3 degrees C: a unit after the degree sign is not stripped",
    "prose parenthetical": "'7 (seven)': a gloss after the value is not stripped",
    "r2 units: the variable s stripped as seconds": "a lone s after a number reads as seconds",
    "r2 set: R minus a point": "set difference is not parsed",
    "r2 marker: a confirming double-check mentions 'wait'/'but'": "any change-of-mind word after a weak marker voids it",
    "r2 marker: a caveat after the answer": "any change-of-mind word after a weak marker voids it",
}


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier()
    yield v
    v.close()


@pytest.mark.parametrize("reference,text,expected,note", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_redteam_case(verifier, reference, text, expected, note):
    out = verifier.verify(Problem(domain="math", prompt="q", reference=reference, source="redteam"), text)
    if note in KNOWN_LIMITS:
        assert not out.passed, f"a known limit now passes: remove it from KNOWN_LIMITS ({note})"
        return
    assert out.passed is expected, f"{note}: extracted {out.extracted!r}, {out.reason}: {out.details}"


def test_table_is_balanced_and_large():
    assert len(CASES) >= 120
    assert sum(not c[2] for c in CASES) >= 60 and sum(c[2] for c in CASES) >= 60
