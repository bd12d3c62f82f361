"""The STaR loop end to end with the scripted backend and a stub train command (fast)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import datasets
import pytest

from factory.config import load_config
from factory.query import connect
from pipelines.sample import ChunkProcessor
from pipelines.star import STATE, Star, decontaminate
from schemas import Problem

STUB_TRAINER = """
import json, sys
from pathlib import Path
import datasets
data, output = Path(sys.argv[1]), Path(sys.argv[2])
rows = datasets.load_dataset("parquet", data_files=str(data / "sft.parquet"), split="train")
output.mkdir(parents=True)
(output / "trained_on.json").write_text(json.dumps({"rows": len(rows)}))
"""

STAR = """
[run]
executor = "local"

[star]
iterations = 2
per_problem = 3
train_command = "{python} {trainer} {{data}} {{output}}"

[[star.heldout]]
name = "procedural_math"
kinds = ["arithmetic"]
count = 6
difficulty = 2
"""


@pytest.fixture
def star_config(scripted_config, tmp_path):
    trainer = tmp_path / "stub_trainer.py"
    trainer.write_text(STUB_TRAINER)

    def make(run_id="star"):
        path = scripted_config(run_id=run_id, count=12, n=4, chunk_size=4, extra='options = { fail_every = 3 }')
        text = path.read_text().replace("[run]\n", "[run]\nexecutor = \"local\"\n", 1)
        star = STAR.split("[star]", 1)[1].format(python=sys.executable, trainer=trainer)
        path.write_text(text + "\n[star]" + star)
        return load_config(path)

    return make


def table(run_dir: Path, sql: str) -> list[tuple]:
    return connect(run_dir).execute(sql).fetchall()


def test_two_iterations_select_rationalize_export_and_train(star_config):
    cfg = star_config()
    state = Star(cfg, log=lambda _: None).run()
    run_dir = cfg.run_dir
    assert state.models["1"] == str(run_dir / "models" / "iter-1") and state.models["2"] == str(run_dir / "models" / "iter-2")
    assert [m for (m,) in table(run_dir, "SELECT DISTINCT model FROM candidates WHERE iteration = 1")] == [state.models["1"]]
    # rationalization ran exactly on the problems no unhinted sample solved, with indices after n
    unsolved = {p for (p,) in table(run_dir, "SELECT c.problem_id FROM candidates c JOIN verdicts v USING (candidate_id) "
                                             "WHERE c.iteration = 0 AND NOT hinted GROUP BY 1 HAVING NOT bool_or(passed)")}
    hinted = table(run_dir, "SELECT problem_id, sample_idx FROM candidates WHERE iteration = 0 AND hinted")
    assert unsolved and {p for p, _ in hinted} == unsolved and min(i for _, i in hinted) == 4
    stats = state.stats["0"]["export"]
    sft = datasets.load_dataset("parquet", data_files=stats["sft"], split="train")
    problems = dict(table(run_dir, "SELECT DISTINCT problem_id, prompt FROM problems"))
    per_problem: dict[str, int] = {}
    for row in sft:
        user = [m["content"] for m in row["messages"] if m["role"] == "user"]
        assert user == [problems[row["problem_id"]]]  # the hint never reaches the exported prompt
        assert "hint" not in row["messages"][-1]["content"].lower() and row["messages"][-1]["role"] == "assistant"
        per_problem[row["problem_id"]] = per_problem.get(row["problem_id"], 0) + 1
    # even samples of a solved problem are the same text: one survives exact dedup
    assert max(per_problem.values()) == 1 and stats["exact_duplicates"] > 0
    # per unsolved problem: hinted samples 1 and 3 are one leaky text (after dedup), 0 and 2 one clean text
    assert stats["hint_leaks"] == len(unsolved) and stats["hinted_selected"] == len(unsolved)
    # every problem is covered: solved ones by an unhinted rationale, the rest by a rationalized one
    assert set(per_problem) == {p for (p,) in table(run_dir, "SELECT DISTINCT problem_id FROM candidates WHERE iteration = 0")}
    assert len(sft) == stats["selected"]
    verl = datasets.load_dataset("parquet", data_files=stats["verl"], split="train")
    refs = dict(table(run_dir, "SELECT DISTINCT problem_id, reference FROM problems"))
    assert all(r["reward_model"]["ground_truth"] == refs[r["extra_info"]["problem_id"]] for r in verl)
    trained = json.loads((Path(state.models["1"]) / "trained_on.json").read_text())
    assert trained["rows"] == len(sft)
    heldout_dir = run_dir.parent / f"{cfg.run.run_id}-heldout"
    assert [i for (i,) in table(heldout_dir, "SELECT DISTINCT iteration FROM candidates ORDER BY 1")] == [0, 1, 2]
    train_ids = {p for (p,) in table(run_dir, "SELECT DISTINCT problem_id FROM problems")}
    assert not train_ids & {p for (p,) in table(heldout_dir, "SELECT DISTINCT problem_id FROM problems")}


class Crash(Exception):
    pass


def test_crash_in_second_iteration_resumes_without_duplicates(star_config):
    reference_cfg = star_config("whole")
    Star(reference_cfg, log=lambda _: None).run()
    cfg = star_config("crashy")
    calls = {"n": 0}

    def crashing(model_cfg, hint):
        processor = ChunkProcessor(model_cfg, hint=hint)
        verify = processor.verify

        def verify_then_crash(generated):
            if generated.chunk.iteration == 1 and not hint:
                calls["n"] += 1
                if calls["n"] == 2:  # the second chunk of iteration 1's sampling dies in verify
                    raise Crash
            return verify(generated)

        processor.verify = verify_then_crash
        return processor

    with pytest.raises(Crash):
        Star(cfg, log=lambda _: None, processor_for=crashing).run()
    state = json.loads((cfg.run_dir / STATE).read_text())
    assert "1:sample" not in state["done"] and "0:train" in state["done"]
    Star(cfg, log=lambda _: None).run()
    sql = "SELECT iteration, hinted, count(*), count(DISTINCT candidate_id) FROM candidates GROUP BY 1, 2 ORDER BY 1, 2"
    got, want = table(cfg.run_dir, sql), table(reference_cfg.run_dir, sql)
    assert got == want and all(total == distinct for *_, total, distinct in got)
    assert json.loads((cfg.run_dir / STATE).read_text())["done"].count("1:sample") == 1


@pytest.mark.parametrize("prompt, dropped", [
    ("What is 12 + 7?", True),  # the same short prompt as an eval problem
    ("Sam has 3 red apples and 4 green apples in a big basket today. How many apples?", True),
    ("Sam has 3 red apples and 4 green apples. He eats 2 of them before lunch on Monday.", False),
    ("A completely different question about trains and their speeds in the morning.", False),
])
def test_decontamination_by_ngram_overlap(prompt, dropped):
    evals = [Problem(domain="math", prompt="What is 12 + 7?", reference="19", source="t"),
             Problem(domain="math", prompt="Sam has 3 red apples and 4 green apples in a big basket today. "
                                           "How many apples are there?", reference="7", source="t")]
    kept, n_dropped = decontaminate([Problem(domain="math", prompt=prompt, reference="1", source="t")], evals, 8, 0.5)
    assert (n_dropped == 1) == dropped and len(kept) == (0 if dropped else 1)
