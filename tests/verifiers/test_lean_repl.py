"""The `repl` Lean backend against a fake REPL process (tests/verifiers/fake_repl.py) that replays
answers in the real REPL's shapes (tests/verifiers/data/lean_repl_transcript.jsonl) and can hang,
crash or grow on cue; and for real where a leanprover-community `repl` binary is available."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from factory.errors import ConfigError, MissingDependency
from schemas import Problem
from verifiers.lean import LeanVerifier, ReplLean
from verifiers.lean.checks import axiom_violation, parse_axioms
from verifiers.lean.repl import ReplConfig

HERE = Path(__file__).resolve().parent
FAKE = [sys.executable, str(HERE / "fake_repl.py"), str(HERE / "data" / "lean_repl_transcript.jsonl")]
MATHLIB = json.dumps({"header": "import Mathlib"})

R1 = ("theorem r1 (a b : Nat) : a + b = b + a", "by omega")
R2 = ("theorem r2 : 2 + 2 = 5", "by decide")

# (statement, candidate, expected passed, expected reason); one batch, in this order, so block
# indices match the names in the transcript's `#print axioms` answers.
CASES = [
    (*R1, True, "correct"),
    (*R2, False, "lean_error"),
    ("theorem em' (p : Prop) : p ∨ ¬p", "Classical.em p", True, "correct"),
    ("theorem five : 2 + 2 = 5", "instance : OfNat Nat 5 := ⟨4⟩\ntheorem five : 2 + 2 = 5 := by decide", False,
     "statement_mismatch"),
    ("theorem c1 : 1 = 2", "FakeLib.cheat", False, "forbidden_axiom"),  # an axiom smuggled in by the header's library
    ("theorem c2 : 10 < 20", "FakeLib.fast_lt", False, "forbidden_axiom"),  # a library lemma proved by native_decide
    ("theorem s1 : 3 = 3", "by library_tactic", False, "uses_sorry"),  # warning + sorries + sorryAx
    ("theorem s2 : 3 = 3", "by library_tactic", False, "uses_sorry"),  # sorryAx alone
    ("theorem s3 : 4 = 4", "by library_tactic", False, "uses_sorry"),  # the `sorries` field alone
    ("theorem q1 (n : Nat) : n * 2 = n + n", "by simp", False, "lean_error"),
    # the token checks run first, as for every backend: these never reach the REPL
    ("theorem t1 : 10 < 20", "by native_decide", False, "forbidden_axiom"),
    ("theorem t2 : 10 < 20", "by sorry", False, "uses_sorry"),
]


def problem(statement: str, metadata: str = MATHLIB) -> Problem:
    return Problem(domain="lean", prompt="", reference=statement, source="t", metadata=metadata)


def commands(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def log(tmp_path, monkeypatch):
    path = tmp_path / "fake_repl.log"
    monkeypatch.setenv("FAKE_REPL_LOG", str(path))
    return path


@pytest.fixture
def make():
    made: list[ReplLean] = []

    def build(**options) -> ReplLean:
        made.append(ReplLean(FAKE, **options))
        return made[-1]

    yield build
    for backend in made:
        backend.close()


def verify(backend: ReplLean, pairs, metadata: str = MATHLIB):
    return LeanVerifier(backend=backend).verify_batch([(problem(s, metadata), c) for s, c in pairs])


def test_verdicts_from_recorded_shapes(log, make):
    outs = verify(make(pool_size=2), [(s, c) for s, c, _, _ in CASES])
    got = [(o.passed, o.reason) for o in outs]
    assert got == [(e, r) for _, _, e, r in CASES], [o.details for o in outs]
    assert outs[1].details.startswith("line 2:3:") and "decide" in outs[1].details
    assert "FakeLib.cheat_ax" in outs[4].details and "Lean.ofReduceBool" in outs[5].details
    sent = " ".join(c["cmd"] for c in commands(log))
    assert "theorem t1" not in sent and "theorem t2" not in sent


def test_header_compiled_once_per_process(log, make):
    backend = make(pool_size=2)
    outs = verify(backend, [R1] * 8)
    assert all(o.reason == "correct" for o in outs)
    seen = commands(log)
    headers = Counter(c["pid"] for c in seen if c["cmd"] == "import Mathlib")
    assert set(headers.values()) == {1} and len(headers) == backend.started <= 2
    proofs = [c for c in seen if c["cmd"] != "import Mathlib"]
    assert len(proofs) == 8 and all(c["env"] == 0 for c in proofs)  # every proof from the header's env


def test_headers_are_keyed_by_text(log, make):
    backend = make(pool_size=1)
    for _ in range(2):
        assert verify(backend, [R1])[0].passed
        assert verify(backend, [R1], metadata=json.dumps({"header": "import Mathlib.Tactic"}))[0].passed
    seen = commands(log)
    assert [c["cmd"] for c in seen if c["env"] is None] == ["import Mathlib", "import Mathlib.Tactic"]
    assert [c["env"] for c in seen if c["env"] is not None] == [0, 2, 0, 2]  # each proof from its own header


def test_without_header_reuse_each_proof_carries_the_header(log, make):
    outs = verify(make(pool_size=1, reuse_header=False), [R1, R1])
    assert [o.reason for o in outs] == ["correct", "correct"]
    seen = commands(log)
    assert len(seen) == 2 and all(c["env"] is None and c["cmd"].startswith("import Mathlib\n") for c in seen)


def test_a_hung_proof_times_out_and_the_repl_is_replaced(log, make):
    backend = make(pool_size=1, per_proof_s=1.0)
    hang = ("theorem h1 (n : Nat) : n + 0 = n", "by simp")
    outs = verify(backend, [R1, hang, R1, R1])
    assert [o.reason for o in outs] == ["correct", "timeout", "correct", "correct"]
    pids = list(dict.fromkeys(c["pid"] for c in commands(log)))
    assert len(pids) == backend.started == 2
    assert [c["pid"] for c in commands(log) if c["cmd"] == "import Mathlib"] == pids  # the new one re-imports


@pytest.mark.parametrize("statement,reason,detail", [
    ("theorem k1 : True", "crash", "status -6"),
    ("theorem k2 : True", "memory", "out of memory"),
])
def test_a_dying_repl_takes_only_its_own_proof(log, make, statement, reason, detail):
    backend = make(pool_size=1)
    outs = verify(backend, [R1, (statement, "trivial"), R1])
    assert [o.reason for o in outs] == ["correct", reason, "correct"]
    assert detail in outs[1].details
    assert backend.started == 2


def test_a_proof_over_the_memory_bound_is_killed(log, make):
    backend = make(pool_size=1, per_proof_s=20.0, memory_cap_mb=60, kill_memory_mb=150)
    outs = verify(backend, [("theorem m1 : True", "trivial"), R1])
    assert [o.reason for o in outs] == ["memory", "correct"]
    assert "150 MB bound" in outs[0].details


def test_a_repl_above_the_memory_cap_is_replaced_after_its_proof(log, make):
    backend = make(pool_size=1, memory_cap_mb=50, kill_memory_mb=1000)
    outs = verify(backend, [("theorem g1 : True", "trivial"), R1])
    assert [o.reason for o in outs] == ["correct", "correct"]  # the verdict stands; the process goes
    assert len({c["pid"] for c in commands(log)}) == backend.started == 2


def test_a_repl_is_replaced_after_max_commands(log, make):
    backend = make(pool_size=1, max_commands=3)
    assert all(o.passed for o in verify(backend, [R1] * 5))
    per_pid = Counter(c["pid"] for c in commands(log))
    assert sorted(per_pid.values()) == [2, 3, 3] and backend.started == 3


def test_concurrent_batches_share_the_pool(log, make):
    backend = make(pool_size=2)
    verifier = LeanVerifier(backend=backend)
    results: dict[int, list] = {}

    def work(k: int) -> None:
        results[k] = verifier.verify_batch([(problem(s), c) for s, c in [R1, R2, R1, R2]])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {k: [o.reason for o in v] for k, v in results.items()} == {
        k: ["correct", "lean_error", "correct", "lean_error"] for k in range(3)}
    assert backend.started <= 2


def test_a_header_that_does_not_compile_fails_every_proof_once(log, make):
    outs = verify(make(pool_size=1), [R1, R1, R1], metadata=json.dumps({"header": "import Nonexistent"}))
    assert [o.reason for o in outs] == ["error"] * 3
    assert all("unknown module prefix 'Nonexistent'" in o.details for o in outs)
    assert len(commands(log)) == 1


AX = {"severity": "info", "pos": {"line": 8, "column": 0}, "data": "'FactoryBlock0.x' depends on axioms: [propext]"}
SPOOF = {"severity": "info", "pos": {"line": 5, "column": 0}, "data": "'FactoryBlock0.x' does not depend on any axioms"}


@pytest.mark.parametrize("response,failure,axioms", [
    ({"messages": [AX], "env": 3}, "", ["propext"]),
    ({"messages": [SPOOF], "env": 3}, "error", None),  # a report at the candidate's line is not ours
    ({"messages": [SPOOF, {**AX, "data": "'FactoryBlock0.x' depends on axioms: [propext,\n Lean.ofReduceBool]"}],
      "env": 3}, "", ["propext", "Lean.ofReduceBool"]),
    ({"message": "Unknown environment."}, "error", None),
    ({"env": 3}, "error", None),  # accepted, but no axiom report: never pass unchecked
])
def test_response_parsing(response, failure, axioms):
    result = ReplLean.result(response, axioms_line=8)
    assert (result.failure, result.axioms) == (failure, axioms)


@pytest.mark.parametrize("report,axioms,violation", [
    ("'a.b' depends on axioms: [propext, Classical.choice, Quot.sound]",
     ["propext", "Classical.choice", "Quot.sound"], None),
    ("'a.b' does not depend on any axioms", [], None),
    ("'a.b' depends on axioms: [propext, sorryAx]", ["propext", "sorryAx"], "uses_sorry"),
    ("'a.b' depends on axioms: [Lean.ofReduceBool]", ["Lean.ofReduceBool"], "forbidden_axiom"),
    ("'a.b' depends on axioms: [cheat]", ["cheat"], "forbidden_axiom"),
    ("\"factory-block-0\" : String", None, None),
])
def test_axiom_reports(report, axioms, violation):
    assert parse_axioms(report) == axioms
    if axioms is not None:
        assert (axiom_violation(axioms) or (None,))[0] == violation


def test_missing_binary_fails_with_the_install_hint(monkeypatch):
    with pytest.raises(MissingDependency, match="lake build.*FACTORY_LEAN_REPL"):
        ReplLean("/nonexistent/repl")
    monkeypatch.setenv("FACTORY_LEAN_BACKEND", "repl")
    monkeypatch.setenv("FACTORY_LEAN_REPL", "/nonexistent/repl")
    with pytest.raises(MissingDependency, match="/nonexistent/repl"):
        LeanVerifier().verify_batch([(problem(R1[0]), R1[1])])


def test_backend_selection_by_environment(monkeypatch, tmp_path, log):
    wrapper = tmp_path / "repl"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(FAKE) + "\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("FACTORY_LEAN_BACKEND", "repl")
    monkeypatch.setenv("FACTORY_LEAN_REPL", str(wrapper))
    monkeypatch.setenv("FACTORY_LEAN_REPL_POOL", "3")
    verifier = LeanVerifier(timeout_s=7.0)
    try:
        assert verifier.verify(problem(R1[0]), R1[1]).reason == "correct"
        assert isinstance(verifier.backend, ReplLean)
        assert (verifier.backend.config.pool_size, verifier.backend.config.per_proof_s) == (3, 7.0)
    finally:
        verifier.close()
    monkeypatch.setenv("FACTORY_LEAN_REPL_POOL", "0")
    with pytest.raises(ConfigError, match="pool_size"):
        LeanVerifier().backend
    monkeypatch.setenv("FACTORY_LEAN_BACKEND", "nonsense")
    with pytest.raises(ConfigError, match="embedded, native, repl"):
        LeanVerifier().backend


@pytest.mark.parametrize("options", [{"pool_size": 0}, {"max_commands": 1}, {"per_proof_s": 0},
                                     {"memory_cap_mb": 100, "kill_memory_mb": 50}])
def test_config_is_validated(options):
    with pytest.raises(ValueError):
        ReplConfig(**options)


REAL_REPL = os.environ.get("FACTORY_LEAN_REPL") or shutil.which("repl")


@pytest.mark.skipif(REAL_REPL is None or not Path(REAL_REPL).exists(),
                    reason="no leanprover-community `repl` binary (FACTORY_LEAN_REPL unset, none on PATH): this "
                           "machine has no Lean toolchain and cannot fetch or build one (no GitHub access); "
                           "the pool is tested above against tests/verifiers/fake_repl.py")
def test_repl_for_real():
    """Core Lean only (header ""), so it needs no Mathlib project."""
    backend = ReplLean(REAL_REPL, project=os.environ.get("FACTORY_LEAN_PROJECT"), pool_size=1)
    try:
        pairs = [R1, R2, ("theorem em' (p : Prop) : p ∨ ¬p", "Classical.em p"), R1]
        outs = verify(backend, pairs, metadata="{}")
        assert [(o.passed, o.reason) for o in outs] == [(True, "correct"), (False, "lean_error"),
                                                        (True, "correct"), (True, "correct")]
        assert backend.started == 1
    finally:
        backend.close()
