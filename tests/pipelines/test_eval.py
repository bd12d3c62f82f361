from __future__ import annotations

from math import comb

import pytest

from factory.config import load_config
from pipelines.eval import evaluate, majority_correct, pass_at_k, plot
from pipelines.sample import run_sampling


@pytest.mark.parametrize("n,c,k,expected", [
    (4, 0, 1, 0.0), (4, 4, 3, 1.0), (4, 1, 1, 0.25), (4, 2, 2, 1 - comb(2, 2) / comb(4, 2)),
    (10, 3, 5, 1 - comb(7, 5) / comb(10, 5)), (5, 4, 2, 1.0),
])
def test_unbiased_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_k_over_n():
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


@pytest.mark.parametrize("samples,expected", [
    ([("4", True), ("5", False), ("4", True)], True),
    ([("5", False), ("4", True), ("5", False)], False),
    ([("5", False), ("4", True)], False),  # tie: the answer seen first wins
    ([(None, False), ("4", True)], True),  # samples without an answer do not vote
    ([(None, False), (" ", False)], False),
])
def test_majority_vote(samples, expected):
    assert majority_correct(samples) is expected


def test_curves_on_a_scripted_run(scripted_config, tmp_path):
    cfg = load_config(scripted_config(count=6, n=4))
    run_sampling(cfg)
    (curve,) = evaluate(cfg.run_dir)
    assert curve.n == 4 and curve.problems == 6
    assert curve.pass_at[1] == pytest.approx(0.5) and curve.pass_at[2] == pytest.approx(1 - 1 / 6)
    assert curve.pass_at[4] == 1.0
    assert curve.maj_at[1] == 1.0  # the first sample (index 0) is right by construction
    assert curve.maj_at[2] == 1.0  # tie between right (first) and wrong: the first wins
    paths = plot([curve], tmp_path / "plots")  # matplotlib: the [report] extra, installed by setup.sh
    assert len(paths) == 1 and paths[0].stat().st_size > 1000


def test_per_iteration_plot_when_several_iterations(tmp_path):
    from pipelines.eval import Curve

    curves = [Curve("math", k, 10, 4, {1: 0.2 + k / 10, 2: 0.4, 4: 0.6}, {1: 0.2, 2: 0.2, 4: 0.3}) for k in range(3)]
    paths = plot(curves, tmp_path)
    assert [p.name for p in paths] == ["pass_at_k_math.png", "per_iteration_math.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
