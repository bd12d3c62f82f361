"""The math verifier on a table of real-looking model outputs, per GRADING.md."""

from __future__ import annotations

import threading

import pytest

from schemas import Problem
from verifiers.math import MathVerifier, extract_answer

COT = "Let me think step by step.\nFirst we add the numbers carefully.\n"

# (reference, candidate text, expected pass, expected reason)
CASES = [
    # --- extraction: which answer counts ---
    ("8", COT + "So the answer is \\boxed{8}.", True, "correct"),
    # a final line with no value in it: nothing to grade (#12)
    ("3", COT + "So the answer is \\boxed{x =}", False, "no_answer"),
    ("3", COT + "Final Answer: $x = $", False, "no_answer"),
    ("3", COT + "The final answer is \\boxed{\\text{}}", False, "no_answer"),
    ("8", COT + "\\boxed{7} wait, I made an error. Recomputing: \\boxed{8}", True, "correct"),
    ("8", COT + "\\boxed{8} hmm, actually it is\n\\boxed{9}", False, "wrong_answer"),
    ("8", COT + "The final answer is 8", True, "correct"),
    ("8", COT + "Final Answer: 8.", True, "correct"),
    ("8", COT + "**Answer:** 8", True, "correct"),
    ("72", "Natalia sold 48/2 = 24 clips in May.\nAltogether 48+24 = 72.\n#### 72", True, "correct"),
    ("8", COT + "The answer is $8$.", True, "correct"),
    ("8", COT + "\\fbox{8}", True, "correct"),
    ("8", COT + "We get 8 apples in total.", False, "no_answer"),
    ("8", COT + "So the answer is \\boxed{8", False, "no_answer"),
    ("8", COT + "\\boxed{}", False, "no_answer"),
    ("8", "", False, "no_answer"),
    ("8", "I'm sorry, I can't help with that.", False, "no_answer"),
    ("8", COT + "\\boxed{\\boxed{8}}", True, "correct"),
    ("\\frac{1}{2}", COT + "\\boxed{\\frac{1}{2}}", True, "correct"),
    ("\\frac{1}{2}", COT + "\\boxed{\\dfrac{1}{2}}", True, "correct"),
    ("\\frac{1}{2}", COT + "\\boxed{{1}/{2}}", True, "correct"),
    # --- value, not form ---
    ("0.5", COT + "\\boxed{\\frac{1}{2}}", True, "correct"),
    ("1/2", COT + "\\boxed{0.5}", True, "correct"),
    ("1/2", COT + "\\boxed{2/4}", True, "correct"),
    ("3/4", COT + "\\boxed{\\frac{3}{4}}", True, "correct"),
    ("3/4", COT + "\\boxed{\\frac{4}{3}}", False, "wrong_answer"),
    ("-5", COT + "\\boxed{-5}", True, "correct"),
    ("-5", COT + "\\boxed{\u22125}", True, "correct"),
    ("-5", COT + "\\boxed{5}", False, "wrong_answer"),
    ("16", COT + "\\boxed{016}", True, "correct"),
    ("1000", COT + "\\boxed{1,000}", True, "correct"),
    ("1234567", COT + "\\boxed{1,234,567}", True, "correct"),
    ("3", COT + "\\boxed{x = 3}", True, "correct"),
    ("3", COT + "\\boxed{x=3}", True, "correct"),
    ("2.50", COT + "\\boxed{2.5}", True, "correct"),
    ("12", COT + "\\boxed{12.0}", True, "correct"),
    ("720", COT + "\\boxed{6!}", True, "correct"),
    ("\\sqrt{2}/2", COT + "\\boxed{\\frac{1}{\\sqrt{2}}}", True, "correct"),
    ("2\\sqrt{3}", COT + "\\boxed{\\sqrt{12}}", True, "correct"),
    ("x^2+2x+1", COT + "\\boxed{(x+1)^2}", True, "correct"),
    ("x^2-1", COT + "\\boxed{(x-1)(x+1)}", True, "correct"),
    ("x^2-1", COT + "\\boxed{(x-1)^2}", False, "wrong_answer"),
    ("\\pi", COT + "\\boxed{\\pi}", True, "correct"),
    ("2\\pi", COT + "\\boxed{2\\pi}", True, "correct"),
    ("-i", COT + "\\boxed{\\frac{1}{i}}", True, "correct"),
    ("1/3", COT + "\\boxed{0.\\overline{3}}", True, "correct"),
    ("1\\frac{1}{2}", COT + "\\boxed{\\frac{3}{2}}", True, "correct"),
    # --- approximations fail ---
    ("\\pi", COT + "\\boxed{3.1416}", False, "wrong_answer"),
    ("1/3", COT + "\\boxed{0.3333}", False, "wrong_answer"),
    ("\\sqrt{2}", COT + "\\boxed{1.41421}", False, "wrong_answer"),
    ("1", COT + "\\boxed{0.999999}", False, "wrong_answer"),
    ("3.14", COT + "\\boxed{3.14}", True, "correct"),
    # --- percent, units, text ---
    ("25", COT + "\\boxed{25\\%}", True, "correct"),
    ("25\\%", COT + "\\boxed{25}", True, "correct"),
    ("20", COT + "\\boxed{20\\%}", True, "correct"),
    ("5", COT + "\\boxed{5 \\text{ cm}}", True, "correct"),
    ("18", COT + "\\boxed{\\$18}", True, "correct"),
    ("90", COT + "\\boxed{90^\\circ}", True, "correct"),
    ("45", COT + "The final answer is 45 degrees.", True, "correct"),
    ("12", COT + "\\boxed{12 \\text{ apples}}", True, "correct"),
    # --- structure: intervals, sets, tuples ---
    ("(1,2)", COT + "\\boxed{(1,2)}", True, "correct"),
    ("(1,2)", COT + "\\boxed{(2,1)}", False, "wrong_answer"),
    ("[0,1)", COT + "\\boxed{[0,1)}", True, "correct"),
    ("[0,1)", COT + "\\boxed{[0,1]}", False, "wrong_answer"),
    ("\\{1,2,3\\}", COT + "\\boxed{\\{3,2,1\\}}", True, "correct"),
    ("(-\\infty, 3)", COT + "\\boxed{x < 3}", True, "correct"),
    ("2, -2", COT + "\\boxed{-2, 2}", True, "correct"),
    ("\\pm 2", COT + "\\boxed{\\pm 2}", True, "correct"),
    # --- multiple choice ---
    ("C", COT + "\\boxed{C}", True, "correct"),
    ("C", COT + "\\boxed{(C)}", True, "correct"),
    ("C", COT + "\\boxed{\\text{(C)}}", True, "correct"),
    ("C", COT + "\\boxed{B}", False, "wrong_answer"),
    # --- hedging fails ---
    ("12", COT + "\\boxed{12 or 13}", False, "hedged"),
    ("12", COT + "The answer is \\boxed{12} or \\boxed{13}", False, "hedged"),
    ("12", COT + "\\boxed{12 \\pm 1}", False, "hedged"),
    # --- peers' published failures ---
    ("1/2004!", COT + "\\boxed{1/2006!}", False, "wrong_answer"),
    ("2^{100}", COT + "\\boxed{2^{100}+1}", False, "wrong_answer"),
    # --- look-alikes and bad output ---
    ("8", COT + "\\boxed{\u0969}", False, "wrong_answer"),  # Devanagari three
    ("3", COT + "\\boxed{\u0417}", False, "wrong_answer"),  # Cyrillic Ze looks like 3
    ("8", COT + "\x00\x01binary\\boxed{8}", False, "bad_output"),
    ("8", COT + "\\boxed{" + "9" * 5000 + "}", False, "bad_output"),
    ("8", "a" * 300_000 + "\\boxed{8}", False, "bad_output"),
    ("", COT + "\\boxed{8}", False, "bad_input"),
    # --- more extraction formats seen in real outputs ---
    ("8", COT + "So we get $\\boxed{8}$.", True, "correct"),
    ("8", COT + "\\[\\boxed{8}\\]", True, "correct"),
    ("8", COT + "the answer is \\(\\boxed{8}\\)", True, "correct"),
    ("8", COT + "\\boxed {8}", True, "correct"),
    ("8", COT + "Final Answer: The final answer is $8$. I hope it is correct.", True, "correct"),
    ("8", COT + "The answer is: 8", True, "correct"),
    ("1234", COT + "#### 1,234", True, "correct"),
    ("-14", COT + "#### -14", True, "correct"),
    ("8", COT + "ANSWER: 8", True, "correct"),
    ("8", COT + "**Answer: 8**", True, "correct"),
    ("8", "What is 3 + 5? Let me restate: what is 3 + 5?", False, "no_answer"),
    ("8", COT + "\\boxed{ }", False, "no_answer"),
    ("8", COT + "The answer is", False, "no_answer"),
    ("8", COT + "\\boxed{3} is wrong, \\boxed{5} is wrong too, finally \\boxed{8}", True, "correct"),
    # --- numbers ---
    ("1", COT + "\\boxed{1.0}", True, "correct"),
    ("1/2", COT + "\\boxed{.5}", True, "correct"),
    ("0", COT + "\\boxed{-0}", True, "correct"),
    ("5", COT + "\\boxed{+5}", True, "correct"),
    ("5", COT + "\\boxed{5.00}", True, "correct"),
    ("1500", COT + "\\boxed{1.5 \\times 10^3}", True, "correct"),
    ("1500", COT + "\\boxed{1.5e3}", True, "correct"),
    ("1000000", COT + "\\boxed{10^6}", True, "correct"),
    ("1024", COT + "\\boxed{2^{10}}", True, "correct"),
    ("0.001", COT + "\\boxed{10^{-3}}", True, "correct"),
    ("1024", COT + "\\boxed{2^{10}+0.5}", False, "wrong_answer"),
    ("20", COT + "\\boxed{5!/3!}", True, "correct"),
    ("3628800", COT + "\\boxed{10!}", True, "correct"),
    ("123456789123456789", COT + "\\boxed{123456789123456788}", False, "wrong_answer"),
    # --- fractions ---
    ("1/2", COT + "\\boxed{\\frac12}", True, "correct"),
    ("-0.5", COT + "\\boxed{-\\frac{1}{2}}", True, "correct"),
    ("-1/2", COT + "\\boxed{\\frac{-1}{2}}", True, "correct"),
    ("3/4", COT + "\\boxed{\\frac{6}{8}}", True, "correct"),
    ("3.5", COT + "\\boxed{\\dfrac{7}{2}}", True, "correct"),
    ("3.5", COT + "\\boxed{3\\frac{1}{2}}", True, "correct"),
    ("-3.5", COT + "\\boxed{-3\\frac{1}{2}}", True, "correct"),
    ("1/3", COT + "\\boxed{0.33}", False, "wrong_answer"),
    ("2/3", COT + "\\boxed{0.\\overline{6}}", True, "correct"),
    ("1/7", COT + "\\boxed{0.142857}", False, "wrong_answer"),
    # --- radicals, pi, e, complex ---
    ("\\sqrt{2}/2", COT + "\\boxed{\\frac{\\sqrt2}{2}}", True, "correct"),
    ("2", COT + "\\boxed{\\sqrt[3]{8}}", True, "correct"),
    ("2+\\sqrt{3}", COT + "\\boxed{\\sqrt{3}+2}", True, "correct"),
    ("2+\\sqrt{3}", COT + "\\boxed{2-\\sqrt{3}}", False, "wrong_answer"),
    ("\\frac{\\pi}{2}", COT + "\\boxed{\\pi/2}", True, "correct"),
    ("\\frac{\\pi}{4}", COT + "\\boxed{0.785}", False, "wrong_answer"),
    ("e", COT + "\\boxed{2.718}", False, "wrong_answer"),
    ("3+4i", COT + "\\boxed{4i+3}", True, "correct"),
    ("3+4i", COT + "\\boxed{3-4i}", False, "wrong_answer"),
    # --- percent and units ---
    ("50\\%", COT + "\\boxed{0.5}", False, "wrong_answer"),
    ("12", COT + "\\boxed{12 \\text{ cm}^2}", True, "correct"),
    ("1200", COT + "\\boxed{\\$1,200}", True, "correct"),
    ("3", COT + "The answer is 3 hours.", True, "correct"),
    ("30", COT + "\\boxed{30^{\\circ}}", True, "correct"),
    ("7.5", COT + "\\boxed{7.50 \\text{ dollars}}", True, "correct"),
    # --- intervals, sets, tuples, equations ---
    ("(-\\infty, 2]", COT + "\\boxed{x \\le 2}", True, "correct"),
    ("(0, \\infty)", COT + "\\boxed{x > 0}", True, "correct"),
    ("(1,2]", COT + "\\boxed{(1,2)}", False, "wrong_answer"),
    ("(3,-1)", COT + "\\boxed{(3, -1)}", True, "correct"),
    ("(3,-1)", COT + "\\boxed{(-1, 3)}", False, "wrong_answer"),
    ("\\{1,2,3\\}", COT + "\\boxed{\\{1,2,4\\}}", False, "wrong_answer"),
    ("2x+1", COT + "\\boxed{y = 2x + 1}", True, "correct"),
    ("0.5", COT + "\\boxed{x=\\frac{1}{2}}", True, "correct"),
    ("\\pm 3", COT + "\\boxed{3, -3}", True, "correct"),
    ("\\pm 3", COT + "\\boxed{3}", False, "wrong_answer"),
    ("3, -3", COT + "\\boxed{\\pm 3}", True, "correct"),
    ("x^2-5x+6", COT + "\\boxed{(x-2)(x-3)}", True, "correct"),
    ("2x+2", COT + "\\boxed{2(x+1)}", True, "correct"),
    ("2x+2", COT + "\\boxed{2(x+2)}", False, "wrong_answer"),
    # --- multiple choice ---
    ("B", COT + "\\boxed{\\textbf{(B)}}", True, "correct"),
    ("B", COT + "\\boxed{(B) 12}", True, "correct"),
    ("B", COT + "\\boxed{\\text{B}}", True, "correct"),
    ("(E)", COT + "\\boxed{D}", False, "wrong_answer"),
    ("\\text{(A)}", COT + "The answer is (A).", True, "correct"),
    # --- hedging and hacks ---
    ("12", COT + "\\boxed{12}\\boxed{13}", False, "hedged"),
    ("12", COT + "The answer is 12 or 13", False, "hedged"),
    ("12", COT + "\\boxed{12, 13}", False, "wrong_answer"),
    ("12", COT + "\\boxed{12}, \\boxed{12}", True, "correct"),
    ("8", COT + "\\boxed{\uff18}", False, "wrong_answer"),  # fullwidth digit
    ("3", COT + "\\boxed{\u0663}", False, "wrong_answer"),  # Arabic-Indic three
    ("1", COT + "\\boxed{l}", False, "wrong_answer"),
    ("0", COT + "\\boxed{O}", False, "wrong_answer"),
    # --- typed equivalence (#12): each answer is parsed into a kind and compared per kind ---
    ('\\sqrt{2}', COT + '\\boxed{1.4142135623730951}', False, 'wrong_answer'),
    ('\\pi', COT + '\\boxed{3.141592653589793}', False, 'wrong_answer'),
    ('\\frac{\\sqrt{3}}{2}', COT + '\\boxed{0.8660254037844386}', False, 'wrong_answer'),
    ('e^2', COT + '\\boxed{7.38905609893065}', False, 'wrong_answer'),
    ('\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}', COT + '\\boxed{\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}}', False, 'wrong_answer'),
    ('\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}', COT + '\\boxed{\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}}', True, 'correct'),
    ('\\begin{pmatrix} 1/2 \\\\ 3 \\end{pmatrix}', COT + '\\boxed{\\begin{pmatrix} 0.5 \\\\ 3 \\end{pmatrix}}', True, 'correct'),
    ('\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}', COT + '\\boxed{\\begin{pmatrix} 1 & 3 \\end{pmatrix}}', False, 'wrong_answer'),
    ('5', COT + '\\boxed{2+2=5}', False, 'wrong_answer'),
    ('5', COT + '\\boxed{2+3=5}', True, 'correct'),
    ('4', COT + '\\boxed{x = 2+2 = 5}', False, 'wrong_answer'),
    ('(1,100)', COT + '\\boxed{1100}', False, 'wrong_answer'),
    ('1100', COT + '\\boxed{(1,100)}', False, 'wrong_answer'),
    ('1100', COT + '\\boxed{1,100}', True, 'correct'),
    ('(1,100)', COT + '\\boxed{(1,100)}', True, 'correct'),
    ('[1,100]', COT + '\\boxed{1100}', False, 'wrong_answer'),
    ('y = 2x + 1', COT + '\\boxed{2x - y + 1 = 0}', True, 'correct'),
    ('y = 2x + 1', COT + '\\boxed{2y = 4x + 2}', True, 'correct'),
    ('y = 2x + 1', COT + '\\boxed{y = 2x + 2}', False, 'wrong_answer'),
    ('2x + 3y - z = 5', COT + '\\boxed{-4x - 6y + 2z + 10 = 0}', True, 'correct'),
    ('2x + 3y - z = 5', COT + '\\boxed{4x + 6y - 2z = 5}', False, 'wrong_answer'),
    ('x^2+y^2=25', COT + '\\boxed{x^2 + y^2 - 25 = 0}', True, 'correct'),
    ('8', COT + 'Final Answer: The final answer is $\\frac{16}{2}$. I hope it is correct.', True, 'correct'),
    ('\\frac{1}{2}', COT + 'Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.', True, 'correct'),
    ('3.5', COT + 'Final Answer: The final answer is 3.5. I hope it is correct.', True, 'correct'),
    ('11111', COT + '\\boxed{11,\\!111}', True, 'correct'),
    ('10000', COT + '\\boxed{10\\,000}', True, 'correct'),
    ('12', COT + '\\boxed{12 \\text{ cm}^2}', True, 'correct'),
    ('12', COT + '\\boxed{12\\,\\text{cm}^{2}}', True, 'correct'),
    ('12', COT + '\\boxed{12 \\mathrm{m}^3}', True, 'correct'),
    ('20', COT + '\\boxed{20 \\text{ square units}}', True, 'correct'),
    ('(-\\infty,-1)\\cup(2,\\infty)', COT + '\\boxed{x < -1 \\text{ or } x > 2}', True, 'correct'),
    ('(-\\infty,-1)\\cup(2,\\infty)', COT + '\\boxed{x < -1 \\text{ or } x \\ge 2}', False, 'wrong_answer'),
    ('(-\\infty,-1)\\cup(2,\\infty)', COT + '\\boxed{(-\\infty,-1) \\cup (2,\\infty)}', True, 'correct'),
    ('(2,\\infty)', COT + '\\boxed{x>2}', True, 'correct'),
    ('3', COT + '\\boxed{3x}', False, 'wrong_answer'),
    ('3', COT + '\\boxed{3 x}', False, 'wrong_answer'),
    ('3', COT + '\\boxed{3 \\text{ m}}', True, 'correct'),
    ('\\text{Monday}', COT + '\\boxed{\\text{Monday}}', True, 'correct'),
    ('\\text{Monday}', COT + 'The answer is Monday.', True, 'correct'),
    ('\\text{Monday}', COT + '\\boxed{Tuesday}', False, 'wrong_answer'),
    ('1 \\pm \\sqrt{2}', COT + '\\boxed{1+\\sqrt{2}, 1-\\sqrt{2}}', True, 'correct'),
    ('-2, 2', COT + '\\boxed{x = 2 \\text{ or } x = -2}', True, 'correct'),
    ('\\frac{\\sqrt2}{2}', COT + '\\boxed{\\frac{\\sqrt{2}}{2} \\approx 0.707}', True, 'correct'),
    ('0.707', COT + '\\boxed{\\frac{\\sqrt{2}}{2}}', False, 'wrong_answer'),
    ('10', COT + '\\boxed{10^{\\circ}}', True, 'correct'),
    ('\\$32,000', COT + '\\boxed{32000}', True, 'correct'),
    ('2', COT + '\\boxed{f(x) = 2}', True, 'correct'),
    ('1', COT + '\\boxed{0.9999999999999999999999}', False, 'wrong_answer'),
    ('x+1', COT + '\\boxed{1.0000000001x + 1}', False, 'wrong_answer'),
    ('(1,2)', COT + '\\boxed{1<x<2}', True, 'correct'),
    ('\\{1,2\\}', COT + '\\boxed{1, 2}', True, 'correct'),
    ('(3, 4)', COT + '\\boxed{(x, y) = (3, 4)}', True, 'correct'),
    ('4', COT + '\\boxed{x = 4, y = 4}', False, 'wrong_answer'),
    ('3-2i', COT + '\\boxed{3 - 2i}', True, 'correct'),
    ('\\infty', COT + '\\boxed{\\infty}', True, 'correct'),
    ('\\infty', COT + '\\boxed{-\\infty}', False, 'wrong_answer'),
    ('\\dfrac{3}{4}', COT + '\\boxed{75\\%}', False, 'wrong_answer'),
    # --- classes found on the public table (tests/verifiers/data/math_public) ---
    # a sentence is not a value: "at least 7", "7 squared" would pass a rule that kept the number
    ("7", "**Answer:** Verna received $7.00 in change", False, "wrong_answer"),
    ("12", COT + "The answer is: it is not 12", False, "wrong_answer"),
    ("7", COT + "The answer is: she has 7 apples and 3 pears", False, "no_answer"),
    ("6", COT + "### Final Answer\nThe product of the digits when T is 3 is **6**.", True, "correct"),
    ("6", COT + "### Final Answer\nThe product of the digits when T is 3 is **7**.", False, "wrong_answer"),
    ("8", COT + "#### Step 1\nWe compute the sum.", False, "no_answer"),
    ("15", COT + "\\boxed{\\15}", True, "correct"),
    ("\\frac1{10}", COT + "\\boxed{0.1}", True, "correct"),
    ("8\\sqrt{3} \\text { square inches}", COT + "\\boxed{8\\sqrt{3}}", True, "correct"),
    ("\\text{A,D}", COT + "\\boxed{A, D}", True, "correct"),
    ("\\text{A,D}", COT + "\\boxed{A, C}", False, "wrong_answer"),
    ("f(n)=n, g(n)=1", COT + "\\boxed{(f(n), g(n)) = (n, 1)}", True, "correct"),
    ("f(n)=n, g(n)=1", COT + "\\boxed{\\left( f(n) = n, g(n) = 1 \\right)}", True, "correct"),
    ("f(n)=n, g(n)=1", COT + "\\boxed{f(n) = 1, g(n) = n}", False, "wrong_answer"),
    ("0", COT + "\\boxed{I(6,3) = 0}", True, "correct"),
    ("0", COT + "\\boxed{I(6,3) = 1}", False, "wrong_answer"),
    ("1,2,3", COT + "\\boxed{(1, 2, 3)}", True, "correct"),
    ("1,2,3", COT + "\\boxed{(3, 2, 1)}", False, "wrong_answer"),
    ("1,-1,7,-7", COT + "\\boxed{\\pm 1, \\pm 7}", True, "correct"),
    ("1,-1,7,-7", COT + "\\boxed{\\pm 1, 7}", False, "wrong_answer"),
    ("1,2,3,4", COT + "\\boxed{\\{1, 2\\}, \\{3, 4\\}}", True, "correct"),
    ("1,2,3,4", COT + "\\boxed{\\{1, 2\\}, \\{3, 5\\}}", False, "wrong_answer"),
    ("\\frac{\\pi}{6}+k\\pi", COT + "\\boxed{\\frac{\\pi}{6} + k\\pi \\text{ for } k \\in \\mathbb{Z}}", True, "correct"),
    ("8", COT + "\\boxed{\\sqrt{\\sqrt{}}}", False, "wrong_answer"),
    # alternatives that are all the same right value are not a hedge
    ("\\frac{1}{2}", COT + "\\boxed{\\frac{2}{4}}\nor equivalently,\n\\boxed{0.5}", True, "correct"),
    ("\\frac{1}{2}", COT + "\\boxed{\\frac{2}{4}}\nor equivalently,\n\\boxed{0.6}", False, "hedged"),
    # --- pathological input fails fast ---
    ("1", COT + "\\boxed{10^{10^{10}}}", False, "wrong_answer"),
    ("1", COT + "\\boxed{9^{9^{9^{9}}}}", False, "wrong_answer"),
    ("1", COT + "\\boxed{100000!}", False, "wrong_answer"),
    ("1", COT + "\\boxed{" + "(" * 400 + "1" + ")" * 400 + "}", True, "correct"),
    ("1", COT + "\\boxed{" + "x+" * 20000 + "1}", False, "bad_output"),
    ("1", COT + "\\boxed{" + "1+(" * 300 + "1" + ")" * 300 + "}", False, "bad_output"),
    ("1", "\\boxed{1}" * 20000, True, "correct"),
]


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(timeout_s=5.0)
    yield v
    v.close()


@pytest.mark.parametrize("reference,text,expected,reason", CASES,
                         ids=[f"{i}-{c[3]}" for i, c in enumerate(CASES)])
def test_math_cases(verifier, reference, text, expected, reason):
    problem = Problem(domain="math", prompt="q", reference=reference, source="test")
    outcome = verifier.verify(problem, text)
    assert (outcome.passed, outcome.reason) == (expected, reason), outcome.details


def test_table_is_large_enough():
    assert len(CASES) >= 150


def test_last_box_is_extracted_with_nested_braces():
    assert extract_answer("\\boxed{1} then \\boxed{\\frac{a}{b^{2}}}") == ("\\frac{a}{b^{2}}", "")


def test_pathological_expression_times_out_fast(verifier):
    import time

    v = MathVerifier(timeout_s=1.0)
    try:
        problem = Problem(domain="math", prompt="q", reference="x", source="test")
        v.verify(problem, "\\boxed{1}")  # warm the worker (imports) outside the bound
        start = time.perf_counter()
        out = v.verify(problem, "\\boxed{10^{10^{10^{10}}} - 10^{10^{10^{10}}-1} + (x+1)^{1000000}}")
        elapsed = time.perf_counter() - start
    finally:
        v.close()
    assert not out.passed
    assert out.reason in ("timeout", "wrong_answer")
    assert elapsed < 10


def test_verify_off_main_thread(verifier):
    """math-verify's SIGALRM breaks in threads; ours must not."""
    results = []
    problem = Problem(domain="math", prompt="q", reference="x^2-1", source="test")

    def work():
        results.append(verifier.verify(problem, "\\boxed{(x-1)(x+1)}"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [(o.passed, o.reason) for o in results] == [(True, "correct")] * 4


def test_never_raises_on_non_string(verifier):
    problem = Problem(domain="math", prompt="q", reference="8", source="test")
    out = verifier.verify(problem, None)  # type: ignore[arg-type]
    assert (out.passed, out.reason) == (False, "bad_output")
