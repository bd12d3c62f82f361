"""Code labels without a reference (CodeT dual agreement): the rules on pass matrices (no sandbox),
then the pipeline with the scripted `synth` solver (factory/generation/scripted_synth.py) on a
small sandbox budget: 3 problems, 16 executions a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.errors import ConfigError
from factory.query import run_query
from factory.store import RunStore
from pipelines.code_labels import consensus_sets, decide, parse_asserts
from pipelines.sample import make_backend
from pipelines.synth_config import load_synth_config
from pipelines.synthesize import run_synthesis, synthesis_yield

CONFIG = Path(__file__).parent / "data" / "synth_code_scripted.toml"
EXPECTED_YIELD = {"generated": 3, "well_formed": 3, "clean": 3, "labelled": 1, "deduplicated": 1, "kept": 1}
EXPECTED_REASONS = {"label:no_tests": 1, "label:unlabelled": 1}
TESTS = [f"assert f({i}) == {i}" for i in range(5)]


def fs(*tests):
    return frozenset(tests)


@pytest.mark.parametrize("passed,kept,solutions,dropped,why", [
    # three agree on tests 0-1; the wrong one passes only test 2 (a wrong test); nobody passes 3
    ([fs(0, 1), fs(0, 1), fs(0, 1), fs(2)], [0, 1], [0, 1, 2], [[2, "outside_consensus"], [3, "passed_by_none"]], ""),
    # two solutions each side: the tests decide (2 x 3 = 6 beats 2 x 1 = 2), a plain vote would tie
    ([fs(0, 1, 2), fs(0, 1, 2), fs(3), fs(3)], [0, 1, 2], [0, 1], [[3, "outside_consensus"]], ""),
    # equal scores: solutions and tests disagree, no label
    ([fs(0, 1), fs(0, 1), fs(2, 3), fs(2, 3)], [], [], [], "tie"),
    # below min_score (3 x 1 = 3 < 4)
    ([fs(0), fs(0), fs(0), None], [], [], [], "score 3 < 4"),
    # below min_share: score 1 x 4 = 4 passes, share 1/4 does not; no program counts against it
    ([fs(0, 1, 2, 3), None, None, None], [], [], [], "share 1/4"),
    ([fs(), fs(), None, None], [], [], [], "no solution passed"),
    ([None, None], [], [], [], "none of the 2"),
])
def test_dual_agreement_rules(passed, kept, solutions, dropped, why):
    label, best, reason = decide(passed, TESTS[:4], min_score=4, min_share=0.5)
    assert why in reason and (best is None) == bool(why)
    assert label.kept_tests == kept and label.solutions == solutions and label.dropped == dropped
    assert label.passed == [sorted(p) if p is not None else None for p in passed]  # the why, stored whole
    assert label.method == f"codet@{len(passed)}" and label.answered == sum(p is not None for p in passed)


def test_consensus_sets_score_and_order():
    sets = consensus_sets([fs(0), fs(0, 1), fs(0), None, fs(0, 1)])
    assert [(c.solutions, c.tests, c.score) for c in sets] == [((1, 4), (0, 1), 4), ((0, 2), (0,), 2)]


def test_parse_asserts():
    text = "Tests:\n```python\nassert f(1) == 2\nassert f(1) == 2\nassert (f(2)\nprint(3)\n  assert f(3) == 4\n```"
    assert parse_asserts(text, 10) == ["assert f(1) == 2", "assert f(3) == 4"]  # distinct, parsed, one line
    assert parse_asserts("assert f(1) == 2\nassert f(2) == 3", 1) == ["assert f(1) == 2"]
    assert parse_asserts("no tests here", 10) == []


def make_config(tmp: Path, run_id: str = "synth-code", replace=()) -> Path:
    text = CONFIG.read_text().replace('output_dir = "runs"', f'output_dir = "{tmp / "runs"}"')
    text = text.replace('run_id = "synth-code"', f'run_id = "{run_id}"')
    for old, new in replace:
        assert old in text
        text = text.replace(old, new)
    path = tmp / f"{run_id}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("code")
    return run_synthesis(load_synth_config(make_config(tmp))), tmp


def test_code_labels_by_agreement_end_to_end(clean_run):
    report, _ = clean_run
    assert report.yields == EXPECTED_YIELD and report.reasons == EXPECTED_REASONS
    store = RunStore(report.run_dir)
    (problem,) = store.read("problems").to_pylist()
    label = json.loads(problem["metadata"])["label"]
    assert label["method"] == "codet@4" and label["confidence"] == 0.75 and label["score"] == 6
    assert label["solutions"] == [0, 1, 2] and label["kept_tests"] == [0, 1]
    assert label["dropped"] == [[2, "outside_consensus"], [3, "passed_by_none"]]
    assert label["passed"] == [[0, 1], [0, 1], [0, 1], [2]]  # which solutions passed which tests
    tests = json.loads(problem["tests"])
    assert [t["code"] for t in tests] == label["tests"][:2] and "def add" in problem["reference"]
    reasons = {r["reason"]: r["details"] for r in store.read("rejections").to_pylist()}
    assert "share 1/4" in reasons["unlabelled"] and "no assert" in reasons["no_tests"]
    # the label samples' verdicts come from the agreement's own executions: 3 pass, the wrong one fails
    verdicts = run_query(Path(report.run_dir), "SELECT sample_idx, passed, reason FROM samples "
                                               "ORDER BY sample_idx")[1]
    assert [(i, p) for i, p, _ in verdicts] == [(0, True), (1, True), (2, True), (3, False)]
    assert verdicts[3][2] == "wrong_answer"


def test_kept_code_problems_flow_into_factory_run(clean_run, tmp_path):
    """`factory run` over them checks the samples with the kept tests: the scripted coder's three
    right programs pass, the wrong one fails (8 executions)."""
    from factory.config import load_config
    from pipelines.sample import run_sampling

    report, _ = clean_run
    config = tmp_path / "sample.toml"
    config.write_text(f'[run]\nrun_id = "use-code"\noutput_dir = "{tmp_path / "runs"}"\n\n'
                      f'[[sources]]\nname = "synthesized"\nrun_dir = "{report.run_dir}"\n\n'
                      '[generation]\nbackend = "scripted"\nn = 4\n\n[generation.options]\nsolver = "synth"\n\n'
                      '[verification.code]\nworkers = 2\n')
    sampled = run_sampling(load_config(config))
    assert sampled.summary["problems"] == 1 and sampled.summary["pass_rate"] == pytest.approx(0.75)


class CrashingBackend:
    """The scripted backend that dies on its `crash_at`-th generate call (a crash mid-run)."""

    def __init__(self, inner, crash_at):
        self.inner, self.calls, self.crash_at = inner, 0, crash_at
        self.name, self.model_id = inner.name, inner.model_id

    def generate(self, requests, params):
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError("crash")
        return self.inner.generate(requests, params)

    def close(self):
        self.inner.close()


def test_crash_then_resume_labels_exactly_once(clean_run):
    clean, tmp = clean_run
    crash_dir = tmp / "crash"  # its own store: the clean run's problem would be a duplicate there
    crash_dir.mkdir()
    cfg = load_synth_config(make_config(crash_dir, "crash"))
    with pytest.raises(RuntimeError, match="crash"):  # chunk 1 commits (3 calls), chunk 2 dies writing
        run_synthesis(cfg, backend=CrashingBackend(make_backend(cfg.run), crash_at=4))
    assert len(RunStore(cfg.run.run_dir).committed()) == 1
    resumed = run_synthesis(load_synth_config(make_config(crash_dir, "crash")))
    assert resumed.chunks_skipped == 1 and resumed.yields == EXPECTED_YIELD
    assert synthesis_yield(cfg.run.run_dir) == (EXPECTED_YIELD, EXPECTED_REASONS)
    run_dir = Path(resumed.run_dir)
    assert run_query(run_dir, "SELECT count(*), count(DISTINCT candidate_id) FROM candidates")[1] == [(4, 4)]
    clean_ids = {r["problem_id"] for r in RunStore(clean.run_dir).read("rejections").to_pylist()}
    assert {r["problem_id"] for r in RunStore(run_dir).read("rejections").to_pylist()} == clean_ids


@pytest.mark.parametrize("old,new,message", [
    ('tests_template = "Write tests', 'tests_templat = "Write tests', "tests_template"),
    ("min_share = 0.5", "min_share = 0", "min_share"),
    ("{problem}\"", "{solution}\"", "unknown placeholder"),
])
def test_code_config_errors(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_synth_config(make_config(tmp_path, replace=((old, new),)))


def test_a_broken_sandbox_is_named_not_blamed_on_the_model():
    from pipelines.code_labels import code_label
    from verifiers.code import CodeVerifier
    from verifiers.sandbox import ExecResult

    class DeadPool:
        def run_batch(self, executions):
            return [ExecResult("error", False, "worker died")] * len(executions)

    class Verifier:
        limits, pool = CodeVerifier().limits, DeadPool()

    program = "```python\ndef f(x):\n    return x\n```"
    outcome = code_label([program, program], ["assert f(1) == 1"], Verifier(), 10, 1, 0.5)
    assert outcome.reason == "unlabelled" and "every sandbox execution failed: worker died" in outcome.why
