"""The Lean verifier for real on the embedded (wasm) Lean: one batch holds the project's
reference proofs (contract test) and a table of correct, wrong and unsound candidates, so the
~25 s start-up is paid once. The toolchain is installed by setup.sh (`factory lean install`)."""

from __future__ import annotations

import json

import pytest

from factory.config import SourceSection
from factory.sources import load_problems
from schemas import Problem
from verifiers.lean import LeanVerifier
from verifiers.lean.checks import parse_statement, prepare
from verifiers.lean.embedded import EmbeddedLean

ADD = "theorem add_comm' (a b : Nat) : a + b = b + a"
LEN = "theorem len_app (xs ys : List Nat) : (xs ++ ys).length = xs.length + ys.length"

# (name, statement, candidate, expected passed, expected reason)
CASES = [
    ("proof-only", ADD, "by omega", True, "correct"),
    ("full-theorem-in-fence", ADD, f"Here it is:\n```lean\n{ADD} := by\n  omega\n```", True, "correct"),
    ("term-proof", ADD, ":= Nat.add_comm a b", True, "correct"),
    ("with-helper-lemma", ADD, "```lean\ntheorem helper (x y : Nat) : x + y = y + x := by omega\n"
                               f"{ADD} := helper a b\n```", True, "correct"),
    ("simp-list", LEN, "by simp", True, "correct"),
    ("induction", "theorem zero_add' (n : Nat) : 0 + n = n",
     "by\n  induction n with\n  | zero => rfl\n  | succ k ih => omega", True, "correct"),
    ("comment-mentions-sorry", ADD, "by\n  -- no sorry needed here\n  omega", True, "correct"),
    ("classical", "theorem em' (p : Prop) : p ∨ ¬p", "Classical.em p", True, "correct"),
    ("wrong-tactic", "theorem mul_comm' (a b : Nat) : a * b = b * a", "by omega", False, "lean_error"),
    ("false-statement-decide", "theorem bad : 2 + 2 = 5", "by decide", False, "lean_error"),
    ("type-error", ADD, "rfl", False, "lean_error"),
    ("unknown-identifier", ADD, "by exact Nat.add_comm_magic a b", False, "lean_error"),
    ("syntax-error", ADD, "by omega )", False, "lean_error"),
    ("sorry", ADD, "by sorry", False, "uses_sorry"),
    ("admit", ADD, "by admit", False, "uses_sorry"),
    ("sorry-in-helper", ADD, f"theorem h : False := sorry\n{ADD} := absurd h id", False, "uses_sorry"),
    ("native-decide", "theorem big : 10 < 20", "by native_decide", False, "forbidden_axiom"),
    ("of-reduce-bool", "theorem big2 : 10 < 20", "Lean.ofReduceBool _ _ rfl", False, "forbidden_axiom"),
    ("new-axiom", ADD, f"axiom cheat : ∀ a b : Nat, a + b = b + a\n{ADD} := cheat a b", False, "forbidden_axiom"),
    ("implemented-by", ADD, "@[implemented_by id] def f (n : Nat) : Nat := n\nby omega", False, "forbidden_axiom"),
    ("extern", ADD, '@[extern "c_fn"] opaque g : Nat → Nat\nby omega', False, "forbidden_axiom"),
    ("unsafe", ADD, "unsafe def u : Nat := 0\nby omega", False, "forbidden_axiom"),
    ("set-option-weakens", ADD, "set_option debug.skipKernelTC true in\nby omega", False, "forbidden_axiom"),
    ("macro-rewrites", ADD, 'macro "cheat" : tactic => `(tactic| sorry)\nby cheat', False, "uses_sorry"),
    ("elab-meta", ADD, "elab \"x\" : tactic => pure ()\nby omega", False, "forbidden_axiom"),
    ("escape-namespace", ADD, "by omega\nend FactoryBlock0\ntheorem add_comm' : True := trivial", False, "forbidden_axiom"),
    ("import-in-proof", ADD, "import Mathlib\nby omega", False, "forbidden_axiom"),
    ("weaker-statement", ADD, "```lean\ntheorem add_comm' (a : Nat) : a + 0 = 0 + a := by omega\n```", False,
     "statement_mismatch"),
    ("extra-hypothesis", ADD, "theorem add_comm' (a b : Nat) (h : a = b) : a + b = b + a := by omega", False,
     "statement_mismatch"),
    ("different-name", ADD, "theorem easy (a b : Nat) : a + b = b + a := by omega", False, "statement_mismatch"),
    ("empty", ADD, "", False, "no_answer"),
    ("instance-reinterprets-numeral", "theorem five : 2 + 2 = 5", "instance : OfNat Nat 5 := ⟨4⟩\ntheorem five : 2 + 2 = 5 := by decide", False,
     "statement_mismatch"),
    ("shadowed-type", "theorem sh (a : Nat) : a = a + 0", "def Nat := Unit\ntheorem sh (a : Nat) : a = a + 0 := by simp", False, "lean_error"),
    ("implicit-binders", "theorem impl {n : Nat} (h : n > 2) : n > 1", "by omega", True, "correct"),
    ("instance-binder", "theorem inst {α : Type} [Inhabited α] : Nonempty α", "⟨default⟩", True, "correct"),
    ("non-terminating-tactic", "theorem slow (n : Nat) : n + 0 = n", "by\n  sleep 100000000\n  simp", False, "timeout"),
]


@pytest.fixture(scope="module")
def batch():
    """Every case and every reference proof in one embedded-Lean run (the slow case last)."""
    core = load_problems([SourceSection("lean_core", {})], ".", 0)
    items = [(p, json.loads(p.metadata)["reference_proof"]) for p in core]
    items += [(Problem(domain="lean", prompt="", reference=s, source="t"), c) for _, s, c, _, _ in CASES]
    # ~35 s of real work for the whole batch, then the deliberately slow proof is killed
    verifier = LeanVerifier(backend=EmbeddedLean(base_timeout_s=75, per_proof_s=0.1))
    outcomes = verifier.verify_batch(items)
    return core, outcomes[: len(core)], dict(zip([c[0] for c in CASES], outcomes[len(core):]))


def test_at_least_fifty_core_theorems_and_thirty_cases():
    assert len(load_problems([SourceSection("lean_core", {})], ".", 0)) >= 50
    assert len(CASES) >= 30


def test_contract_every_reference_proof_is_accepted(batch):
    core, outcomes, _ = batch
    rejected = [(p.reference, o.reason, o.details[:200]) for p, o in zip(core, outcomes) if not o.passed]
    assert not rejected


@pytest.mark.parametrize("name,statement,candidate,expected,reason", CASES, ids=[c[0] for c in CASES])
def test_lean_cases(batch, name, statement, candidate, expected, reason):
    out = batch[2][name]
    assert (out.passed, out.reason) == (expected, reason), out.details


def test_lean_errors_carry_message_and_position(batch):
    details = batch[2]["false-statement-decide"].details
    assert details.startswith("line ") and "decide" in details


def test_statement_parsing():
    st = parse_statement("theorem foo (a : Nat) (h : a > 0 := by omega) : a ≥ 1 := by omega")
    assert (st.name, st.signature) == ("foo", "(a : Nat) (h : a > 0 := by omega) : a ≥ 1")
    with pytest.raises(ValueError):
        parse_statement("def foo : Nat := 1")
    assert prepare(st, "by omega").proof == "by omega"


def test_lean_jsonl_source(tmp_path):
    (tmp_path / "mini.jsonl").write_text(json.dumps({"statement": ADD, "header": "import Std"}) + "\n")
    (p,) = load_problems([SourceSection("lean_jsonl", {"path": "mini.jsonl"})], str(tmp_path), 0)
    assert p.domain == "lean" and p.reference == ADD and json.loads(p.metadata)["header"] == "import Std"


TRANSCRIPT = __import__("pathlib").Path(__file__).with_name("data") / "lean_transcript.jsonl"
RECORDED = [("theorem r1 (a b : Nat) : a + b = b + a", "by omega"), ("theorem r2 : 2 + 2 = 5", "by decide")]


def test_native_backend_against_a_recorded_transcript(tmp_path):
    """The native backend's file protocol, replaying messages recorded from a real Lean run."""
    from verifiers.lean import NativeLean

    fake = tmp_path / "lean"
    fake.write_text(f"#!/bin/sh\ntest \"$1\" = --json && test -f \"$2\" && cat {TRANSCRIPT}\n")
    fake.chmod(0o755)
    verifier = LeanVerifier(backend=NativeLean(lean=str(fake)))
    outs = verifier.verify_batch([(Problem(domain="lean", prompt="", reference=s, source="t"), c) for s, c in RECORDED])
    assert [(o.passed, o.reason) for o in outs] == [(True, "correct"), (False, "lean_error")]
    assert outs[1].details.startswith("line 2:") and "decide" in outs[1].details


@pytest.mark.skipif(__import__("shutil").which("lean") is None,
                    reason="no native `lean` on PATH here (elan cannot be installed on this machine); "
                           "the embedded backend is tested above for real")
def test_native_backend_for_real():
    from verifiers.lean import NativeLean

    verifier = LeanVerifier(backend=NativeLean())
    outs = verifier.verify_batch([(Problem(domain="lean", prompt="", reference=s, source="t"), c) for s, c in RECORDED])
    assert [(o.passed, o.reason) for o in outs] == [(True, "correct"), (False, "lean_error")]


def test_factory_verify_handles_lean_lines(tmp_path):
    from typer.testing import CliRunner

    from factory.cli import app

    lines = [{"id": 1, "domain": "lean", "statement": ADD, "candidate": "by omega", "header": ""},
             {"id": 2, "domain": "lean", "statement": ADD, "candidate": "by native_decide"},
             {"id": 3, "domain": "math", "reference": "2", "candidate": "\\boxed{2}"},
             {"id": 4, "domain": "lean", "statement": "theorem bad : 1 = 2", "candidate": "by decide"}]
    src, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(json.dumps(line) for line in lines))
    result = CliRunner().invoke(app, ["verify", str(src), "-o", str(dest)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in dest.read_text().splitlines()]
    assert [(o["id"], o["reason"]) for o in out] == [(1, "correct"), (2, "forbidden_axiom"), (3, "correct"),
                                                       (4, "lean_error")]
