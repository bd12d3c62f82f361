"""Per-domain verification settings, checks at load, and the shared verification path."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import verifiers.lean as lean_module
from factory.cli import app
from factory.config import VerificationSection, parse_config
from factory.errors import ConfigError, FactoryError
from factory.verification import grade, make_verifier
from pipelines.sample import config_hash
from pipelines.steps import VerifyStep
from schemas import Candidate, Problem
from verifiers import Outcome

BASE = {"sources": [{"name": "procedural_math", "count": 2}]}
PROBLEM = Problem(domain="math", prompt="1+1?", reference="2", source="t")


def test_per_domain_sections_parse_and_fall_back_to_the_shared_timeout():
    cfg = parse_config({**BASE, "verification": {"timeout_s": 7, "code": {"memory_mb": 256, "workers": 3},
                                                 "lean": {"backend": "repl", "project": "lake", "pool": 4}}})
    v = cfg.verification
    assert (v.code.memory_mb, v.code.workers, v.lean.backend, v.lean.pool) == (256, 3, "repl", 4)
    code = make_verifier(v, "code")
    assert (code.limits.memory_mb, code.limits.wall_s, code._workers) == (256, 7.0, 3)
    assert make_verifier(v, "lean").timeout_s == 7.0


@pytest.mark.parametrize("verification,message", [
    ({"timeout_s": 0}, r"verification.timeout_s: must be > 0"),
    ({"math": {"timeout_s": -1}}, r"verification.math.timeout_s: must be > 0"),
    ({"code": {"workers": -2}}, r"verification.code.workers"),
    ({"lean": {"backend": "coq"}}, r"verification.lean.backend: unknown lean backend 'coq' \(known: embedded, native, repl\)"),
    ({"lean": {"pool": 0}}, r"verification.lean.pool"),
    ({"code": {"memroy_mb": 1}}, r"unknown key 'memroy_mb'"),
])
def test_bad_verification_settings_are_config_errors(verification, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, "verification": verification})


@pytest.mark.parametrize("section,message", [
    ({"generation": {"backend": "vlm"}}, r"generation.backend: unknown generation backend 'vlm'"),
    ({"run": {"executor": "slurm"}}, r"run.executor: unknown executor 'slurm'"),
    ({"sources": [{"name": "procedural_mth"}]}, r"sources\[0\]: unknown problem source 'procedural_mth'"),
    ({"sources": [{"name": "procedural_math", "count": 10**10}]}, r"count"),
])
def test_unknown_names_are_rejected_at_load_before_any_run_dir(section, message, scripted_config, tmp_path):
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, **section})
    config = scripted_config(run_id="never")
    text = config.read_text()
    key, value = next(iter(section.items()))
    if key == "generation":
        text = text.replace('backend = "scripted"', f'backend = "{value["backend"]}"')
    elif key == "run":
        text = text.replace("[run]\n", f'[run]\nexecutor = "{value["executor"]}"\n')
    else:
        text = text.replace('name = "procedural_math"', f'name = "{value[0]["name"]}"')
        text = text.replace("count = 10", f"count = {value[0].get('count', 10)}")
    config.write_text(text)
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_the_hash_covers_verification_settings_but_not_defaults(monkeypatch):
    plain = config_hash(parse_config(dict(BASE)))
    explicit = config_hash(parse_config({**BASE, "verification": {"code": {"memory_mb": 512},
                                                                  "lean": {"backend": "embedded"}}}))
    assert plain == explicit  # runs made before the sections existed keep their hash
    assert config_hash(parse_config({**BASE, "verification": {"code": {"memory_mb": 256}}})) != plain
    assert config_hash(parse_config({**BASE, "verification": {"lean": {"backend": "repl"}}})) != plain
    monkeypatch.setenv("FACTORY_LEAN_BACKEND", "native")  # the old way still chooses, and is now hashed
    cfg = parse_config(dict(BASE))
    assert cfg.verification.lean.backend == "native" and config_hash(cfg) != plain


def test_the_lean_backend_is_built_from_the_config_on_first_use(monkeypatch, tmp_path):
    built = []

    class FakeRepl:
        def __init__(self, **kwargs):
            built.append(kwargs)

        def run(self, header, blocks):
            return {}

    monkeypatch.setattr(lean_module, "ReplLean", FakeRepl)
    cfg = parse_config({**BASE, "verification": {"lean": {"backend": "repl", "repl": "/opt/repl", "project": "m",
                                                          "pool": 3, "memory_mb": 900, "timeout_s": 30}}})
    verifier = make_verifier(cfg.verification, "lean", base_dir=str(tmp_path))
    assert not built  # nothing starts until a proof needs it
    assert verifier.backend is verifier.backend and len(built) == 1
    assert built[0] == {"repl": "/opt/repl", "project": str(tmp_path / "m"), "per_proof_s": 30.0, "pool_size": 3,
                        "memory_cap_mb": 900.0}


class Raising:
    name, version = "math", "x"

    def verify(self, problem, text):
        raise RuntimeError("boom")


class Miscounting:
    name, version = "code", "x"

    def verify_batch(self, pairs):
        return [Outcome(True, "correct")] * (len(pairs) - 1)


class Setup:
    name, version = "lean", "x"

    def verify_batch(self, pairs):
        raise FactoryError("Lean REPL backend: 'repl' not found; install it")


def test_grade_never_raises_for_a_candidate_and_checks_counts():
    pairs = [(PROBLEM, "a"), (PROBLEM, "b")]
    raised = grade(Raising(), pairs)
    assert [o.reason for o, _ in raised] == ["error", "error"] and "RuntimeError: boom" in raised[0][0].details
    short = grade(Miscounting(), pairs)
    assert [o.reason for o, _ in short] == ["error", "error"] and "returned 1 outcomes for 2" in short[0][0].details
    with pytest.raises(FactoryError, match="not found"):  # a setup problem stops the run with its hint
        grade(Setup(), pairs)
    assert grade(Raising(), []) == []


def test_the_pipeline_step_turns_a_verifier_crash_into_error_verdicts():
    cand = Candidate(candidate_id="c", problem_id=PROBLEM.problem_id, run_id="r", iteration=0, sample_idx=0,
                     domain="math", model="m", backend="b", prompt_text="", text="\\boxed{2}", finish_reason="stop",
                     prompt_tokens=1, completion_tokens=1, latency_ms=1.0, temperature=0.7, top_p=1.0, max_tokens=8,
                     seed=0, hinted=False, created_at_ms=0)
    ((_, _, verdicts),) = VerifyStep({"math": Raising()}).run([(PROBLEM, [cand])])
    assert [(v.passed, v.reason) for v in verdicts] == [(False, "error")]
    ((_, _, verdicts),) = VerifyStep({"math": make_verifier(VerificationSection(), "math")}).run([(PROBLEM, [cand])])
    assert [(v.passed, v.reason) for v in verdicts] == [(True, "correct")]
