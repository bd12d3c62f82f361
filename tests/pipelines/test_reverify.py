"""factory reverify: stored candidates graded again into a new verdict version, exactly once."""

from __future__ import annotations

import pytest

from factory.config import load_config
from factory.errors import FactoryError
from factory.generation.base import Completion, Generation
from factory.query import run_query
from factory.store import RunStore
from pipelines.reverify import reverify, stored_versions
from pipelines.sample import run_sampling
from pipelines.select import SelectionRules, select
from verifiers.judge import JudgeSettings, JudgeVerifier
from verifiers.math import MathVerifier


def rows(run_dir, sql, version=None):
    return run_query(run_dir, sql, version)[1]


@pytest.fixture
def lenient_run(scripted_config, monkeypatch):
    """A run graded by a verifier with a false-pass bug (it passed every answer), as if made
    before a fix: the odd samples' wrong answers are stored as passed."""
    cfg = load_config(scripted_config(count=6, n=4, chunk_size=2))
    original = MathVerifier._compare
    monkeypatch.setattr(MathVerifier, "_compare", lambda self, ref, ans: ("correct", "bug"))
    run_sampling(cfg)
    monkeypatch.setattr(MathVerifier, "_compare", original)
    return cfg.run_dir


def test_reverify_writes_a_new_version_and_reports_flips(lenient_run):
    assert rows(lenient_run, "SELECT avg(passed::INT) FROM samples") == [(1.0,)]
    report = reverify(lenient_run)
    assert (report.version, report.kind, report.graded) == (2, "rules", 24)
    assert (report.passed_before, report.passed_after) == (24, 12)
    assert report.flips == {"pass:correct -> fail:wrong_answer": 12}
    assert report.examples and report.examples[0]["extracted"] is not None
    # readers take the newest version; the old one is still there and selectable
    assert rows(lenient_run, "SELECT avg(passed::INT), min(verdict_version) FROM samples") == [(0.5, 2)]
    assert rows(lenient_run, "SELECT avg(passed::INT) FROM samples", version=1) == [(1.0,)]
    assert rows(lenient_run, "SELECT count(*), count(DISTINCT candidate_id) FROM verdicts") == [(48, 24)]
    assert select(lenient_run, 0, SelectionRules(per_problem=4, max_jaccard=1.0)).counts["selected"] == 6
    assert select(lenient_run, 0, SelectionRules(per_problem=4, max_jaccard=1.0, verdict_version=1)).counts["selected"] == 12
    assert [v["version"] for v in stored_versions(lenient_run)] == [1, 2]
    assert reverify(lenient_run).version == 3  # a later pass is the next version


def test_reverify_resumes_after_a_crash_with_nothing_lost_or_doubled(lenient_run, monkeypatch):
    commits = []
    real_commit = RunStore.commit

    def crashing_commit(self, chunk, *args, **kwargs):
        if chunk.startswith("reverify-") and len(commits) == 1:
            raise KeyboardInterrupt("killed mid-pass")
        commits.append(chunk)
        return real_commit(self, chunk, *args, **kwargs)

    monkeypatch.setattr(RunStore, "commit", crashing_commit)
    import pipelines.reverify as module

    monkeypatch.setattr(module, "CHUNK", 5)
    with pytest.raises(KeyboardInterrupt):
        reverify(lenient_run)
    assert rows(lenient_run, "SELECT count(*) FROM verdicts WHERE verdict_version = 2") == [(5,)]
    monkeypatch.setattr(RunStore, "commit", real_commit)
    report = reverify(lenient_run)
    assert report.resumed and report.version == 2 and report.graded == 24
    assert rows(lenient_run, "SELECT count(*), count(DISTINCT candidate_id) FROM verdicts "
                             "WHERE verdict_version = 2") == [(24, 24)]


def test_reverify_refuses_while_a_run_writes(lenient_run):
    store = RunStore(lenient_run)
    import multiprocessing

    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(str(lenient_run), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(FactoryError, match="being written by another process"):
            reverify(store.run_dir)
    finally:
        release.set()
        holder.join(10)


def _hold_lock(run_dir, ready, release):
    with RunStore(run_dir).writer_lock():
        ready.set()
        release.wait(10)


class AlwaysSame:
    """A judge backend that calls every pair the same (a lenient judge)."""

    name, model_id = "fake", "lenient-judge"

    def generate(self, requests, params):
        import re

        out = []
        for r in requests:
            nonce = re.search(r"<verdict-([0-9a-f]+)>", r.messages[0]["content"]).group(1)
            out.append(Generation("", 0, [Completion(f"<verdict-{nonce}>SAME</verdict-{nonce}>", "stop", 3)], 0.0))
        return out


def test_judge_pass_is_stored_apart_and_selectable(scripted_config):
    extra = '[generation.options]\ntexts = ["Counting carefully gives \\\\boxed{\\\\text{seven}}."]'
    cfg = load_config(scripted_config(count=3, n=2, chunk_size=3, extra=extra))
    run_sampling(cfg)
    assert rows(cfg.run_dir, "SELECT bool_or(passed), any_value(reason) FROM samples") == [(False, "wrong_answer")]
    judge = JudgeVerifier(AlwaysSame(), JudgeSettings())
    report = reverify(cfg.run_dir, judge=judge)
    assert (report.kind, report.graded) == ("judge", 6)
    assert report.flips == {"fail:wrong_answer -> pass:correct": 6}
    # the rule verdict stands; the judge's sits beside it, and counts only when asked for
    assert rows(cfg.run_dir, "SELECT bool_or(passed), bool_and(judge_passed), any_value(judge_version) "
                             "FROM samples") == [(False, True, "judge-1/lenient-judge")]
    assert select(cfg.run_dir, 0, SelectionRules(max_jaccard=1.0)).counts["selected"] == 0
    assert select(cfg.run_dir, 0, SelectionRules(max_jaccard=1.0, use_judge=True)).counts["selected"] == 3


def test_judge_never_sees_exact_negatives(scripted_config):
    cfg = load_config(scripted_config(count=3, n=2, chunk_size=3))  # integer answers: exact
    run_sampling(cfg)
    with pytest.raises(FactoryError, match="no candidates to re-verify"):
        reverify(cfg.run_dir, judge=JudgeVerifier(AlwaysSame(), JudgeSettings()))


def test_reverify_cli(lenient_run):
    from typer.testing import CliRunner

    from factory.cli import app

    result = CliRunner().invoke(app, ["reverify", str(lenient_run)])
    assert result.exit_code == 0, result.output
    assert "pass:correct -> fail:wrong_answer" in result.output and "verdict version 2" in result.output


def test_query_cli_reads_a_verdict_version(lenient_run):
    from typer.testing import CliRunner

    from factory.cli import app

    reverify(lenient_run)
    sql = "SELECT avg(passed::INT) AS rate FROM samples"
    newest = CliRunner().invoke(app, ["query", sql, "--run", str(lenient_run), "--format", "csv"])
    first = CliRunner().invoke(app, ["query", sql, "--run", str(lenient_run), "--format", "csv", "--verdict-version", "1"])
    assert newest.exit_code == 0 and first.exit_code == 0, newest.output + first.output
    assert "0.5" in newest.stdout and "1.0" in first.stdout


def test_star_use_judge_is_configurable_and_old_runs_keep_their_hash(scripted_config):
    from pipelines.sample import config_hash

    plain = load_config(scripted_config(run_id="h1"))
    explicit_off = load_config(scripted_config(run_id="h1", extra="[star]\nuse_judge = false"))
    on = load_config(scripted_config(run_id="h1", extra="[star]\nuse_judge = true"))
    assert on.star.use_judge and not plain.star.use_judge
    assert config_hash(plain) == config_hash(explicit_off) != config_hash(on)
