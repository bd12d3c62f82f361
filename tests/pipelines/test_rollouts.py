"""Step labels by rollouts: splitters, the scripted steps solver, the first-bad-step search,
labels against known step correctness, exactly-once resume, and the TRL PRM export."""

from __future__ import annotations

import pytest

from factory.config import load_config
from factory.generation.scripted_steps import first_error, solve_steps
from pipelines.prm_export import connect_with_steps, export_prm
from pipelines.rollouts import RolloutSettings, label_steps
from pipelines.sample import run_sampling
from pipelines.splitters import split_steps
from pipelines.step_search import StepSearch
from schemas import Problem
from verifiers.math import MathVerifier

STEPS_SOLVER = '[generation.options]\nsolver = "steps"\nstep_error_rate = {rate}\nrollout_error_rate = {rollout}\n'

TEXTS = [
    "First, 2 + 2 = 4.\n\nThen 4 * 3.5 = 14.\n\n\nSo \\boxed{14}.",
    "  Step 1: add.\nStep 2: multiply, e.g. 3 * 4.\nstep 3) done \\boxed{1. 2}",
    "No markers here. Just one line with 3.14 in it! Done? Yes.",
    "",
]


@pytest.mark.parametrize("splitter", ["paragraphs", "lines", "step_markers", "sentences"])
@pytest.mark.parametrize("text", TEXTS)
def test_steps_concatenate_back_to_the_text(splitter, text):
    steps = split_steps(text, splitter)
    assert "".join(steps) == text
    assert all(s.strip() for s in steps)


def test_splitters_cut_where_expected():
    assert split_steps(TEXTS[0], "paragraphs") == ["First, 2 + 2 = 4.\n\n", "Then 4 * 3.5 = 14.\n\n\n", "So \\boxed{14}."]
    assert [s.strip()[:6] for s in split_steps(TEXTS[1], "step_markers")] == ["Step 1", "Step 2", "step 3"]
    # no cut after "3." of 3.14, after "e.g." or inside \boxed{1. 2}
    assert split_steps(TEXTS[2], "sentences") == ["No markers here. ", "Just one line with 3.14 in it! ",
                                                   "Done? ", "Yes."]
    assert split_steps(TEXTS[1], "sentences")[-1].endswith("\\boxed{1. 2}")
    assert len(split_steps(TEXTS[1], "sentences")) == 3


def test_steps_solver_has_known_errors_and_continues_a_prefix():
    problem = Problem("math", "What is 3 + 4 * 5 - 2?", "21", "test")
    right = solve_steps(problem.prompt, "", 0, 1, 0.0)
    assert MathVerifier().verify(problem, right).passed and first_error(problem.prompt, right) is None
    wrong = next(t for i in range(50) if first_error(problem.prompt, t := solve_steps(problem.prompt, "", i, 1, 0.5)))
    assert not MathVerifier().verify(problem, wrong).passed
    steps = split_steps(wrong, "paragraphs")
    bad = first_error(problem.prompt, wrong)
    good_prefix, bad_prefix = "".join(steps[:bad]), "".join(steps[:bad + 1])
    assert MathVerifier().verify(problem, good_prefix + solve_steps(problem.prompt, good_prefix, 0, 2, 0.0)).passed
    assert not MathVerifier().verify(problem, bad_prefix + solve_steps(problem.prompt, bad_prefix, 0, 2, 0.0)).passed
    assert solve_steps(problem.prompt, wrong, 0, 1, 0.0) == ""


def search_with(first_bad: int, num_steps: int, strategy: str) -> StepSearch:
    """Drive a search against an oracle whose prefixes are good before `first_bad`."""
    search = StepSearch(num_steps, passed=first_bad >= num_steps, strategy=strategy)
    while probes := search.probes():
        for j in probes:
            search.observe(j, 4, 4 if j < first_bad else 0, 10)
    return search


@pytest.mark.parametrize("num_steps", [1, 2, 5, 16, 33])
def test_binary_search_finds_the_first_bad_step_with_log_probes(num_steps):
    for first_bad in range(num_steps + 1):
        binary, every = search_with(first_bad, num_steps, "binary"), search_with(first_bad, num_steps, "all")
        expected = first_bad if first_bad < num_steps else -1
        assert binary.first_bad() == every.first_bad() == expected
        assert [g for g, _ in binary.labels()] == [g for g, _ in every.labels()] == [j < first_bad for j in range(num_steps)]
        assert len(binary.measured) <= max(0, (num_steps - 1).bit_length())
        assert len(every.measured) == num_steps - 1


def test_binary_labels_say_where_they_came_from():
    labels = search_with(3, 8, "binary").labels()
    assert labels[-1] == (False, "final_verdict")
    assert {src for good, src in labels if good} <= {"rollouts", "before_good"}
    assert {src for good, src in labels if not good} <= {"rollouts", "after_bad", "final_verdict"}


@pytest.fixture
def steps_run(scripted_config):
    def make(rate=0.3, rollout=0.0, count=12, n=4):
        cfg = load_config(scripted_config(count=count, n=n, difficulty=3, extra=STEPS_SOLVER.format(rate=rate, rollout=rollout)))
        run_sampling(cfg)
        return cfg

    return make


def truth(con, labeler):
    """(candidate, step, label, mc_value, first_bad) rows with the candidate's prompt and text."""
    return con.execute("""
        SELECT st.candidate_id, st.step_idx, st.label, st.mc_value, st.first_bad_step, st.num_steps, p.prompt, c.text,
               st.rollouts
        FROM steps st JOIN candidates c USING (candidate_id)
             JOIN (SELECT DISTINCT problem_id, prompt FROM problems) p ON p.problem_id = st.problem_id
        WHERE st.labeler = ? ORDER BY 1, 2""", [labeler]).fetchall()


@pytest.mark.parametrize("strategy", ["all", "binary"])
def test_rollout_labels_match_known_step_correctness(steps_run, strategy):
    cfg = steps_run()
    settings = RolloutSettings(splitter="paragraphs", k=4, strategy=strategy, per_problem=0, chunk_size=8)
    report = label_steps(cfg.run_dir, settings)
    assert report.candidates == 48 and report.chunks_total == 6
    rows = truth(connect_with_steps(cfg.run_dir), settings.labeler)
    assert len(rows) == report.steps == 48 * 5  # 3 operations + introduction + answer
    bad_candidates = 0
    for cid, j, label, mc, first_bad, num_steps, prompt, text, rollouts in rows:
        err = first_error(prompt, text)
        expected_first_bad = -1 if err is None else err
        bad_candidates += j == 0 and err is not None
        assert first_bad == expected_first_bad, cid
        assert label == (err is None or j < err)
        if mc is not None:  # rollouts never err here: the value is 1 before the first error, 0 from it on
            assert mc == (1.0 if label else 0.0) and rollouts == 4
    assert 5 <= bad_candidates <= 40  # the error rate makes both kinds
    if strategy == "all":
        assert report.rollouts == report.rollouts_all == 48 * 4 * 4
    else:
        assert report.rollouts < report.rollouts_all and report.saving > 0.5


def test_soft_labels_estimate_the_share_of_good_continuations(steps_run):
    cfg = steps_run(rate=0.0, rollout=0.25, count=8, n=2)
    report = label_steps(cfg.run_dir, RolloutSettings(k=16, strategy="all", per_problem=0))
    con = connect_with_steps(cfg.run_dir)
    # after the introduction 3 operations remain, each right with 0.75: 0.42; after 2 of them, 0.75
    by_step = dict(con.execute("SELECT step_idx, avg(mc_value) FROM steps WHERE mc_value IS NOT NULL "
                               "GROUP BY 1").fetchall())
    assert by_step[0] == pytest.approx(0.75 ** 3, abs=0.1)
    assert by_step[2] == pytest.approx(0.75, abs=0.1)
    assert report.rollouts == 16 * 16 * 4


def test_rerun_and_crash_resume_write_every_step_once(steps_run):
    cfg = steps_run(count=10, n=2)
    settings = RolloutSettings(k=2, chunk_size=4, per_problem=0)

    def crash(result):
        raise RuntimeError("killed after the first chunk")

    with pytest.raises(RuntimeError):
        label_steps(cfg.run_dir, settings, on_chunk=crash)
    again = label_steps(cfg.run_dir, settings)
    assert (again.chunks_total, again.chunks_skipped) == (5, 1)
    third = label_steps(cfg.run_dir, settings)
    assert third.chunks_skipped == third.chunks_total and third.rollouts == 0
    con = connect_with_steps(cfg.run_dir)
    assert con.execute("SELECT count(*), count(DISTINCT step_id) FROM steps").fetchone() == (100, 100)
    other = label_steps(cfg.run_dir, RolloutSettings(k=3, chunk_size=4, per_problem=1))  # another labeler: its own rows
    assert other.candidates == 10
    assert con.execute("SELECT count(DISTINCT labeler) FROM steps").fetchone() == (1,)  # the view was made before
    assert len(connect_with_steps(cfg.run_dir).execute("SELECT DISTINCT labeler FROM steps").fetchall()) == 2


def trl_tokenize_row(features, tokenize, separator="\n", bos=None):
    """TRL PRMTrainer.tokenize_row's logic (trl/trainer/prm_trainer.py): each step gets the
    separator appended and its label on the separator's last token; -100 everywhere else."""
    prompt_ids = tokenize(features["prompt"])
    completions_ids = [tokenize(c) + tokenize(separator) for c in features["completions"]]
    labels = [[-100] * (len(ids) - 1) + [int(label)] for ids, label in zip(completions_ids, features["labels"])]
    prompt_ids = ([bos] if bos is not None else []) + prompt_ids
    return {"input_ids": prompt_ids + [t for ids in completions_ids for t in ids],
            "labels": [-100] * len(prompt_ids) + [t for lab in labels for t in lab]}


def test_prm_export_loads_with_datasets_as_trl_expects(steps_run, tmp_path):
    datasets = pytest.importorskip("datasets")
    cfg = steps_run(count=6, n=2)
    settings = RolloutSettings(k=2, per_problem=0)
    label_steps(cfg.run_dir, settings)
    rows = export_prm(cfg.run_dir, tmp_path / "prm.parquet")
    assert rows == 12
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "prm.parquet"), split="train")
    assert ds.features["prompt"].dtype == "string"
    assert ds.features["completions"].feature.dtype == "string"
    assert ds.features["labels"].feature.dtype == "bool"
    for row in ds:
        assert len(row["completions"]) == len(row["labels"]) == 5
        assert row["prompt"].startswith("What is") and row["completions"][-1].startswith("Step 5: The answer is")
        assert all(c == c.rstrip() for c in row["completions"])
        tokenized = trl_tokenize_row(row, lambda text: [ord(ch) for ch in text], bos=1)
        marked = [lab for lab in tokenized["labels"] if lab != -100]
        assert marked == [int(x) for x in row["labels"]]
    assert any(not all(row["labels"]) for row in ds) and any(all(row["labels"]) for row in ds)


def test_factory_query_has_a_steps_view_where_the_run_has_labels(steps_run):
    from factory.errors import FactoryError
    from factory.query import run_query

    cfg = steps_run(count=4, n=2)
    with pytest.raises(FactoryError, match="steps"):  # no labels yet: no view
        run_query(cfg.run_dir, "SELECT count(*) FROM steps")
    before = run_query(cfg.run_dir, "SELECT count(*) FROM samples")[1]
    report = label_steps(cfg.run_dir, RolloutSettings(k=2, chunk_size=4, per_problem=0))
    assert run_query(cfg.run_dir, "SELECT count(*), count(DISTINCT step_id) FROM steps")[1] == [(report.steps,) * 2]
    assert run_query(cfg.run_dir, "SELECT count(*) FROM samples")[1] == before  # the other views are as they were
    joined = run_query(cfg.run_dir, "SELECT count(*) FROM steps JOIN samples USING (candidate_id)")[1]
    assert joined == [(report.steps,)]
