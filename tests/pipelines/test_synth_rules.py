"""Label and filter rules of synthesis, one table row per rule (the pipeline test runs them end to end)."""

from __future__ import annotations

import pytest

from factory.minhash import DedupIndex, exact_key
from pipelines.filters import Decontam, Dedup, Length, WellFormed, first_rejection
from pipelines.labels import cluster_answers, majority_label
from pipelines.synthesize import parse_problem
from schemas import Problem
from verifiers.math import MathVerifier


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(timeout_s=5)
    yield v
    v.close()


def boxed(*answers):
    return [f"so the answer is \\boxed{{{a}}}" for a in answers]


@pytest.mark.parametrize("answers,threshold,reference,confidence,why", [
    (["3", "3.0", "\\frac{6}{2}", "4"], 0.6, "3", 0.75, ""),  # one cluster by the verifier's equivalence
    (["1/2", "0.5", "2", "3"], 0.5, "1/2", 0.5, ""),  # at the threshold counts
    (["1", "2", "3", "1"], 0.6, None, 0.5, "majority share 2/4"),  # below the threshold: unlabelled
    (["1", "1", "2", "2"], 0.5, None, 0.5, "tie"),  # two answers with equal support: no label
])
def test_majority_label(verifier, answers, threshold, reference, confidence, why):
    outcome = majority_label(boxed(*answers), verifier, threshold)
    assert outcome.reference == reference and outcome.label.confidence == confidence
    assert outcome.label.method == "majority@4" and why in outcome.why


def test_unanswered_samples_count_against_the_share(verifier):
    outcome = majority_label(boxed("5", "5") + ["no idea", "still no idea"], verifier, 0.6)
    assert outcome.reference is None and outcome.label.answered == 2 and outcome.label.confidence == 0.5
    none = majority_label(["no idea"] * 3, verifier, 0.5)
    assert none.reference is None and "none of the 3" in none.why


def test_clusters_are_largest_first(verifier):
    assert [len(c) for c in cluster_answers(["1", "2", "2", "x=2", "1"], verifier)] == [3, 2]


def p(text):
    return Problem(domain="math", prompt=text, reference="", source="t")


@pytest.mark.parametrize("text,reason", [
    ("", "no_problem"),
    ("A farmer has 3 cows.", "no_question"),
    ("What is 2 + 2? And what is 3 + 3?", "multiple_questions"),
    ("Find the value of 2 + 2.", None),  # an imperative asks without a question mark
    ("What is 2 + 2?", None),
    ("Hi?", "too_short"),
    ("What is " + "1 + " * 600 + "1?", "too_long"),
])
def test_well_formed_and_length(text, reason):
    got = first_rejection([WellFormed(1), Length(10, 2000)], p(text))
    assert (got[1] if got else None) == reason


def test_decontam_names_the_eval_problem():
    eval_problem = p("Tom has five apples and buys seven more apples at the market today. How many apples now?")
    f = Decontam([eval_problem], n=5, threshold=0.5)
    hit = f.check(p("Tom has five apples and buys seven more apples at the market today. How many now?"))
    assert hit[0] == "contaminated" and eval_problem.problem_id in hit[1]
    assert f.check(p("A train leaves at noon and travels 60 km per hour for three hours. How far?")) is None


def test_dedup_exact_near_and_distinct():
    index = DedupIndex(threshold=0.7, num_perm=64, shingle=3)
    dedup = Dedup(index)
    base = p("Ann has 12 red marbles and 7 blue marbles in a bag. She gives away 5 red marbles. How many are left?")
    assert dedup.check(base) is None
    dedup.keep(base)
    assert dedup.check(p(base.prompt.upper().replace(" ", "  ")))[0] == "exact_duplicate"  # case, spacing
    near = p("Ann has 12 red marbles and 7 blue marbles in a bag. She gives away 5 red marbles. How many marbles are left?")
    reason, details = dedup.check(near)
    assert reason == "near_duplicate" and base.problem_id in details
    assert dedup.check(p("A rectangle has a perimeter of 40 cm and a width of 8 cm. What is its area?")) is None
    assert len(index) == 1 and index.nbytes() == 64 * 4


def test_exact_key_ignores_formatting_only():
    assert exact_key("What is 2+2?") == exact_key("what is 2 + 2 ?")
    assert exact_key("What is 2+2?") != exact_key("What is 2+3?")


@pytest.mark.parametrize("text,expected", [
    ("Problem: What is 2 + 3?", "What is 2 + 3?"),
    ("Sure! Here is one.\nProblem: Find x if 2x = 6.\nSolution: x = 3.", "Find x if 2x = 6."),
    ("What is 7 * 6?\n**Answer:** 42", "What is 7 * 6?"),
    ("problem: lower case marker works?", "lower case marker works?"),
])
def test_parse_problem(text, expected):
    assert parse_problem(text, "Problem:") == expected
