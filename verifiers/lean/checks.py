"""Soundness checks on Lean candidates that need no Lean: parse the reference statement and the
candidate, rebuild the theorem from the *reference* statement and the candidate's proof, and
reject unsound constructs before Lean ever runs.

`#print axioms` is unavailable in the embedded build (it reports every file as a `module`),
so forbidden constructs are rejected by token after comments and strings are stripped."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DECL = re.compile(r"(?m)^\s*(?:@\[[^\]]*\]\s*)?(?:private\s+|protected\s+)?(theorem|lemma)\s+([^\s(:{\[]+)")
_FENCE = re.compile(r"```[ \t]*(?:lean4?|)[ \t]*\n(.*?)```", re.S)
_SORRY = re.compile(r"\b(sorry|admit)\b")
FORBIDDEN = {
    "native_decide": "native_decide rests on Lean.ofReduceBool",
    "ofReduceBool": "Lean.ofReduceBool is not a standard axiom",
    "ofReduceNat": "Lean.ofReduceNat is not a standard axiom",
    "axiom": "declares a new axiom",
    "implemented_by": "implemented_by swaps in unchecked code",
    "extern": "extern swaps in unchecked code",
    "unsafe": "unsafe definitions bypass the kernel",
    "opaque": "opaque constants can hide unsound implementations",
    "set_option": "options may weaken checking",
    "import": "imports are fixed by the problem header",
    "macro": "macros can rewrite the statement",
    "macro_rules": "macros can rewrite the statement",
    "syntax": "custom syntax can rewrite the statement",
    "elab": "elaborators can add declarations",
    "elab_rules": "elaborators can add declarations",
    "notation": "notation can rewrite the statement",
    "infix": "notation can rewrite the statement",
    "run_cmd": "meta-programs can add declarations",
    "run_tac": "meta-programs can add declarations",
    "run_elab": "meta-programs can add declarations",
    "run_meta": "meta-programs can add declarations",
    "addDecl": "meta-programs can add declarations",
    "#eval": "evaluation is not proof",
    "#exit": "#exit would skip the rest of the file",
    "end": "closing a namespace or section escapes the proof block",
    "namespace": "namespaces would escape the proof block",
    "section": "sections would escape the proof block",
    "mutual": "mutual blocks would escape the proof block",
    "debug": "debug options may weaken checking",
}
_FORBIDDEN_RE = re.compile(r"(?<![\w'])(" + "|".join(re.escape(k) for k in FORBIDDEN) + r")(?![\w'])")


def strip_comments_and_strings(text: str) -> str:
    out, i, depth = [], 0, 0
    while i < len(text):
        if text.startswith("/-", i):
            depth += 1
            i += 2
        elif depth and text.startswith("-/", i):
            depth -= 1
            i += 2
        elif depth:
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
        elif text[i] == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass
class Statement:
    keyword: str
    name: str
    signature: str  # binders and type, without ":="

    def render(self, proof: str) -> str:
        return f"theorem {self.name} {self.signature} :=\n{proof}"

    def as_prop(self) -> str:
        """`(a b : Nat) : P` → `∀ (a b : Nat), P`, elaborated before any candidate code."""
        depth = 0
        for i, ch in enumerate(self.signature):
            if ch in "([{⟨⦃":
                depth += 1
            elif ch in ")]}⟩⦄":
                depth -= 1
            elif ch == ":" and depth == 0 and not self.signature.startswith(":=", i):
                binders, prop = self.signature[:i].strip(), self.signature[i + 1:].strip()
                return f"∀ {binders}, {prop}" if binders else prop
        raise ValueError("statement has no `: type`")


def _top_level_assign(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text) - 1):
        ch = text[i]
        if ch in "([{⟨":
            depth += 1
        elif ch in ")]}⟩":
            depth -= 1
        elif ch == ":" and text[i + 1] == "=" and depth == 0:
            return i
    return -1


def parse_statement(text: str) -> Statement:
    """`theorem name binders : type` (a trailing `:= ...` is ignored)."""
    text = strip_comments_and_strings(text).strip()
    m = _DECL.match(text)
    if not m:
        raise ValueError("statement must start with `theorem NAME` or `lemma NAME`")
    end = _top_level_assign(text, m.end())
    signature = text[m.end(): end if end >= 0 else len(text)].strip()
    if not signature:
        raise ValueError("statement has no type")
    statement = Statement(m.group(1), m.group(2), signature)
    statement.as_prop()  # raises for a statement without a type
    return statement


def _normalise(sig: str) -> str:
    return re.sub(r"\s+", " ", sig).strip()


@dataclass
class Prepared:
    helpers: str
    proof: str


def extract_lean(text: str) -> str:
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text


def prepare(statement: Statement, text: str) -> Prepared | tuple[str, str]:
    """The candidate's helpers and proof for the reference statement, or (reason, detail)."""
    code = extract_lean(text)
    clean = strip_comments_and_strings(code)
    if not clean.strip():
        return "no_answer", "empty proof"
    if _SORRY.search(clean):
        return "uses_sorry", "the proof contains sorry/admit"
    bad = _FORBIDDEN_RE.search(clean)
    if bad:
        return "forbidden_axiom", f"`{bad.group(1)}`: {FORBIDDEN[bad.group(1)]}"
    decls = list(_DECL.finditer(clean))
    if not decls:
        proof = clean.strip()
        proof = proof[2:].strip() if proof.startswith(":=") else proof
        return Prepared("", proof)
    target = [d for d in decls if d.group(2) == statement.name]
    if not target:
        return "statement_mismatch", f"the candidate proves {decls[-1].group(2)!r}, not {statement.name!r}"
    decl = target[-1]
    assign = _top_level_assign(clean, decl.end())
    if assign < 0:
        return "no_answer", "the theorem has no proof (no `:=`)"
    if _normalise(clean[decl.end():assign]) != _normalise(statement.signature):
        return "statement_mismatch", "the candidate restates the theorem differently: " + _normalise(clean[decl.end():assign])[:200]
    rest = clean[assign + 2:]
    later = _DECL.search(rest)
    if later:  # declarations after the theorem are not part of its proof
        rest = rest[: later.start()]
    return Prepared(clean[: decl.start()].strip(), rest.strip())


# Where a backend can run `#print axioms` (a real Lean), its report is the last word on soundness:
# it also sees what a library tactic or lemma from the header smuggles in, which no token check can.
STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
_DEPENDS = re.compile(r"depends on axioms:\s*\[([^\]]*)\]")


def parse_axioms(report: str) -> list[str] | None:
    """The axioms named by a `#print axioms` message, or None if it is not such a message."""
    if "does not depend on any axioms" in report:
        return []
    m = _DEPENDS.search(report)
    return None if m is None else [a.strip() for a in m.group(1).split(",") if a.strip()]


def axiom_violation(axioms: list[str]) -> tuple[str, str] | None:
    """(reason, detail) when the proof rests on anything beyond the three standard axioms."""
    if "sorryAx" in axioms:
        return "uses_sorry", "the proof depends on sorryAx"
    extra = sorted(set(axioms) - STANDARD_AXIOMS)
    if extra:
        return "forbidden_axiom", "the proof depends on non-standard axioms: " + ", ".join(extra)
    return None
