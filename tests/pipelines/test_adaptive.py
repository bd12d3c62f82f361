"""Adaptive sampling: stopping rules, where freed budget goes, and a resumable run with the
scripted `rate` solver (known per-problem pass rates)."""

from __future__ import annotations

import pytest

from factory.config import load_config
from factory.generation.scripted_rates import problem_rate
from factory.query import run_query
from factory.sources import load_problems
from pipelines.adaptive import AdaptiveSettings, ProblemState, plan_round, run_adaptive, stop_reason

RATE_SOLVER = '[generation.options]\nsolver = "rate"\npass_rates = {rates}\nvariants = {variants}\n'


@pytest.mark.parametrize("state, reason", [
    (ProblemState(samples=4, passed=4, distinct=4), "enough"),
    (ProblemState(samples=8, passed=0), None),  # upper bound after 8 failures: 0.16, not below 0.1
    (ProblemState(samples=16, passed=0), "hopeless"),  # 0.09
    (ProblemState(samples=16, passed=1, distinct=1), None),
    (ProblemState(samples=20, passed=10, distinct=2), "duplicates"),
    (ProblemState(samples=64, passed=1, distinct=1), "cap"),
])
def test_stopping_rules(state, reason):
    assert stop_reason(state, AdaptiveSettings()) == reason


def test_freed_budget_goes_to_the_uncertain_band_first():
    s = AdaptiveSettings(round_size=4, max_per_round=12)
    states = {"easy": ProblemState(4, 4, 4), "zero": ProblemState(16, 0), "mid": ProblemState(4, 2, 2),
              "low": ProblemState(4, 0), "rare": ProblemState(8, 1, 1)}
    plan = plan_round(states, s, remaining=1000)
    assert set(plan) == {"mid", "low", "rare"}  # easy has enough, zero is hopeless
    assert sum(plan.values()) == 4 * 5  # the pace of fixed n: round_size x every problem
    # mid (0.5) and rare (0.125) are in the band and share the 8 freed samples; low (no pass yet) is not
    assert (plan["mid"], plan["rare"], plan["low"]) == (8, 8, 4)
    assert plan_round(states, s, remaining=21 - 6) == {"mid": 6, "rare": 5, "low": 4}  # the most uncertain first
    assert sum(plan_round(states, s, remaining=7).values()) == 7  # the run's cap
    assert plan_round({"a": ProblemState(4, 4, 4)}, s, 100) == {}


@pytest.fixture
def rate_run(scripted_config):
    def make(run_id="ad", rates="[0.0, 0.3, 0.95]", variants=6, count=12, n=16):
        extra = RATE_SOLVER.format(rates=rates, variants=variants)
        return load_config(scripted_config(run_id=run_id, count=count, n=n, chunk_size=4, extra=extra))

    return make


def test_adaptive_run_stops_each_problem_for_its_reason_within_budget(rate_run):
    cfg = rate_run()
    settings = AdaptiveSettings(round_size=4, target_distinct=3, min_samples=8)
    report = run_adaptive(cfg, settings)
    assert report.samples <= report.budget == 16 * 12
    problems = {p.problem_id: p for p in load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)}
    for pid, st in report.states.items():
        rate = problem_rate(problems[pid].prompt, [0.0, 0.3, 0.95])
        if rate == 0.0:
            assert st.passed == 0 and stop_reason(st, settings) == "hopeless" and st.samples == 16
        if rate == 0.95:
            assert stop_reason(st, settings) == "enough" and st.samples <= 8
    rows = run_query(cfg.run_dir, "SELECT count(*), count(DISTINCT candidate_id), "
                                  "(SELECT count(*) FROM problems) FROM candidates")[1][0]
    assert rows == (report.samples, report.samples, 12)


def test_adaptive_run_resumes_after_a_crash_to_the_same_samples(rate_run):
    settings = AdaptiveSettings(round_size=2, target_distinct=3)
    whole = run_adaptive(rate_run(run_id="whole"), settings)
    cfg = rate_run(run_id="crashed")

    def crash(rnd, planned, _):
        if rnd == 1:
            raise RuntimeError("killed after round 1")

    with pytest.raises(RuntimeError):
        run_adaptive(cfg, settings, on_round=crash)
    resumed = run_adaptive(cfg, settings)
    assert {p: (s.samples, s.passed, s.distinct) for p, s in resumed.states.items()} == \
           {p: (s.samples, s.passed, s.distinct) for p, s in whole.states.items()}
    again = run_adaptive(cfg, settings)
    assert again.samples == resumed.samples
    assert run_query(cfg.run_dir, "SELECT count(*) - count(DISTINCT candidate_id) FROM candidates")[1][0][0] == 0
