from __future__ import annotations

from math import comb

import pytest

from factory.config import load_config
from pipelines.eval import evaluate, maj_at_k, pass_at_k, plot
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


def _brute_maj(samples, k):
    """maj@k by enumerating every k-subset (ties split evenly), for checking the counting."""
    from collections import Counter
    from itertools import combinations

    total = 0.0
    for subset in combinations(samples, k):
        votes = Counter(a.strip() for a, _ in subset if a and a.strip())
        if votes:
            best = max(votes.values())
            winners = [a for a, v in votes.items() if v == best]
            right = {a.strip() for a, ok in samples if a and a.strip() and ok}
            total += sum(w in right for w in winners) / len(winners)
    return total / comb(len(samples), k)


MAJ_CASES = [
    [("4", True), ("5", False), ("4", True)],
    [("5", False), ("4", True), ("5", False)],
    [("5", False), ("4", True)],
    [(None, False), ("4", True)],
    [(None, False), (" ", False)],
    [("1", True), ("2", False), ("2", False), ("3", False), ("1", True), (None, False), ("2", False)],
    [("a", False), ("b", True), ("c", False), ("b", True), ("a", False), ("d", False), ("b", True), (None, False)],
]


@pytest.mark.parametrize("samples", MAJ_CASES)
def test_maj_at_k_is_the_expectation_over_subsets(samples):
    n = len(samples)
    for k in range(1, n + 1):
        assert maj_at_k(samples, k) == pytest.approx(_brute_maj(samples, k)), k
    pass_at_1 = sum(ok for _, ok in samples) / n
    assert maj_at_k(samples, 1) == pytest.approx(pass_at_1)  # maj@1 = pass@1


def test_maj_at_k_estimate_for_large_n_is_close_to_exact(monkeypatch):
    import pipelines.eval as ev

    samples = [("r", True)] * 30 + [("w", False)] * 25 + [("v", False)] * 10 + [(None, False)] * 5  # n = 70
    estimates = {k: maj_at_k(samples, k) for k in (1, 5, 20)}  # over the exact limit: sampled
    monkeypatch.setattr(ev, "EXACT_MAJ_MAX_N", 1000)
    for k, estimate in estimates.items():
        assert estimate == pytest.approx(maj_at_k(samples, k), abs=0.03)


def test_curves_on_a_scripted_run(scripted_config, tmp_path):
    cfg = load_config(scripted_config(count=6, n=4))
    run_sampling(cfg)
    (curve,) = evaluate(cfg.run_dir)
    assert curve.n == 4 and curve.problems == 6
    assert curve.pass_at[1] == pytest.approx(0.5) and curve.pass_at[2] == pytest.approx(1 - 1 / 6)
    assert curve.pass_at[4] == 1.0
    assert curve.maj_at[1] == pytest.approx(curve.pass_at[1])  # maj@1 = pass@1
    assert 0 < curve.maj_at[2] < 1
    paths = plot([curve], tmp_path / "plots")  # matplotlib: the [report] extra, installed by setup.sh
    assert len(paths) == 1 and paths[0].stat().st_size > 1000


def test_per_iteration_plot_when_several_iterations(tmp_path):
    from pipelines.eval import Curve

    curves = [Curve("math", k, 10, 4, {1: 0.2 + k / 10, 2: 0.4, 4: 0.6}, {1: 0.2, 2: 0.2, 4: 0.3}) for k in range(3)]
    paths = plot(curves, tmp_path)
    assert [p.name for p in paths] == ["pass_at_k_math.png", "per_iteration_math.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
