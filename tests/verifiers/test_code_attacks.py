"""The attack table (code_attacks.py) through the code verifier, inside an outer jail.

Outside the jail (the normal pytest run) this module has one driver test: it re-runs this
module under `bwrap` (read-only root, its own /tmp, pid, ipc, uts and network namespaces, dies
with its parent) with FACTORY_ATTACK_JAIL=1, so a sandbox escape meets the jail and not the CI
machine, and asserts that run passed. Its failure message is the table of every row: id,
expected, got, and the verdict details of the rows that did not match.

Inside the jail, one test per row asserts the row's expected (passed, reason), and the
mutation check switches each defence off (FACTORY_SANDBOX_DISABLE, read when a worker starts)
and asserts that some row tagged with that defence no longer gets its expected verdict.

Rows run batched: chunks of independent rows share one verify_batch on a fresh verifier (so a
row that breaks a worker cannot fail the rows of another chunk); a row whose verify_batch
raises is isolated by bisection and reported as `host-exception`; a `group` runs in order in a
batch of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_attacks import ROWS, Row  # noqa: E402

from schemas import Problem  # noqa: E402
from verifiers.code import CodeVerifier  # noqa: E402

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
IN_JAIL = os.environ.get("FACTORY_ATTACK_JAIL") == "1"
REPORT = os.environ.get("FACTORY_ATTACK_REPORT")
TIMEOUT_S, WORKERS, CHUNK = 2.0, 2, 16
SIZE_ROW_BUDGET_S = 1.0  # a size row is refused before any parse: it must be fast
JAIL_TIMEOUT_S = 600
SWITCHES = ("seccomp", "namespaces", "rlimits", "zygote", "plain_compare")
BY_ID = {row.id: row for row in ROWS}

assert len(BY_ID) == len(ROWS), "row ids must be unique"


class Result(NamedTuple):
    passed: bool | None  # None: the verifier raised instead of giving a verdict
    reason: str
    details: str
    seconds: float = 0.0  # a size row's own time; for the other rows, their batch's


def problem(tests) -> Problem:
    return Problem(domain="code", prompt="p", reference="", source="attacks", tests=json.dumps(tests))


def completion(row: Row):
    return row.text() if row.text is not None else f"Here is my solution.\n```python\n{row.program}\n```\n"


def matches(row: Row, got: Result) -> bool:
    reason_ok = got.reason in row.reason if isinstance(row.reason, frozenset) else got.reason == row.reason
    fast = row.text is None or got.seconds < SIZE_ROW_BUDGET_S
    return got.passed == row.passed and reason_ok and fast


def expected_text(row: Row) -> str:
    reason = "|".join(sorted(row.reason)) if isinstance(row.reason, frozenset) else row.reason
    return f"({row.passed}, {reason})"


# ---------------------------------------------------------------- running rows --------------

def _batch(verifier: CodeVerifier, rows: list[Row], bisect: bool) -> dict[str, Result]:
    start = time.monotonic()
    try:
        outs = verifier.verify_batch([(problem(r.tests), completion(r)) for r in rows])
    except Exception as exc:  # the host side broke: find the row that does it
        if bisect and len(rows) > 1:
            mid = len(rows) // 2
            return {**_batch(verifier, rows[:mid], True), **_batch(verifier, rows[mid:], True)}
        detail = f"verify_batch raised {type(exc).__name__}: {exc}"
        return {r.id: Result(None, "host-exception", detail) for r in rows}
    seconds = time.monotonic() - start
    return {r.id: Result(o.passed, o.reason, o.details, seconds) for r, o in zip(rows, outs)}


def _plan(rows: list[Row]) -> list[tuple[list[Row], bool]]:
    """Groups in order, each alone; the other rows in chunks. (rows, may bisect)"""
    groups: dict[str, list[Row]] = {}
    plain = []
    for row in rows:
        if row.group:
            groups.setdefault(row.group, []).append(row)
        elif row.text is None:
            plain.append(row)
    return [(g, False) for g in groups.values()] + [(plain[i:i + CHUNK], True) for i in range(0, len(plain), CHUNK)]


def run_rows(rows: list[Row]) -> dict[str, Result]:
    """Every row's verdict; each batch on a fresh verifier created now (with the environment
    as it is now: FACTORY_SANDBOX_DISABLE is read when its workers start)."""
    results: dict[str, Result] = {}
    for row in rows:
        if row.text is not None:  # refused before the sandbox: verify() directly, timed
            verifier = CodeVerifier(timeout_s=TIMEOUT_S, workers=WORKERS)
            try:
                text = completion(row)
                start = time.monotonic()
                out = verifier.verify(problem(row.tests), text)
                results[row.id] = Result(out.passed, out.reason, out.details, time.monotonic() - start)
            except Exception as exc:
                results[row.id] = Result(None, "host-exception", f"{type(exc).__name__}: {exc}")
            finally:
                verifier.close()
    for batch, bisect in _plan(rows):
        verifier = CodeVerifier(timeout_s=TIMEOUT_S, workers=WORKERS)
        try:
            results.update(_batch(verifier, batch, bisect))
        finally:
            verifier.close()
    return results


def _report(kind: str, **fields) -> None:
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, **fields}) + "\n")


def _table(rows: list[Row], got: dict[str, Result]) -> str:
    lines = []
    for row in rows:
        res = got[row.id]
        mark = "ok  " if matches(row, res) else "DIFF"
        lines.append(f"{mark} {row.id:40} expected {expected_text(row):40} got ({res.passed}, {res.reason})"
                     + ("" if matches(row, res) else f": {res.details[:300]}"))
    return "\n".join(lines)


# ---------------------------------------------------------------- outside: the jail ---------

def jail_command(report: Path) -> list[str]:
    bwrap = shutil.which("bwrap")
    cmd = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
           "--ro-bind", str(REPO), str(REPO), "--bind", str(report.parent), str(report.parent),
           "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:  # the inner sandbox drops to uid 65534 with setpriv: it needs root's capabilities here
        cmd += ["--cap-add", "ALL"]
    cmd += ["--unsetenv", "FACTORY_SANDBOX_DISABLE", "--setenv", "TMPDIR", "/tmp", "--setenv", "FACTORY_ATTACK_JAIL", "1",
            "--setenv", "FACTORY_ATTACK_REPORT", str(report), "--chdir", str(REPO),
            sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            "-rfE", "--tb=short"]
    return cmd


def _summary(records: list[dict]) -> str:
    rows = [r for r in records if r["kind"] == "row"]
    bad = [r for r in rows if not r["ok"]]
    out = [f"{len(rows)} rows, {len(bad)} not as expected"]
    for r in bad + [r for r in rows if r["ok"]]:
        out.append(f"{'ok  ' if r['ok'] else 'DIFF'} {r['id']:40} [{r['cls']}] expected {r['expected']} "
                   f"got ({r['passed']}, {r['reason']})" + ("" if r["ok"] else f": {r['details'][:300]}"))
    for m in (r for r in records if r["kind"] == "mutation"):
        out.append(f"mutation {m['switch']}: {m['verdict']}\n{m['table']}")
    return "\n".join(out)


@pytest.mark.skipif(IN_JAIL, reason="the driver runs outside the jail")
def test_attack_table_in_an_outer_jail(tmp_path):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (the code sandbox needs it too)")
    report = tmp_path / "report.jsonl"
    start = time.monotonic()
    proc = subprocess.Popen(jail_command(report), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=JAIL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()  # --die-with-parent and the jail's pid namespace take everything inside with it
        stdout, stderr = proc.communicate()
        stderr += f"\n(killed after {JAIL_TIMEOUT_S} s)"
    elapsed = time.monotonic() - start
    records = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    assert proc.returncode == 0, (f"the attack table failed in the jail (exit {proc.returncode}, {elapsed:.0f} s)\n"
                                  f"{_summary(records)}\n--- inner pytest ---\n{stdout[-20000:]}\n{stderr[-5000:]}")


# ---------------------------------------------------------------- inside: rows and mutations -

@pytest.mark.jail_only
def test_the_jail_is_in_effect():
    import socket

    assert not os.access(REPO, os.W_OK), "the repository should be read-only in the jail"
    assert not os.access("/usr", os.W_OK)
    assert [name for _, name in socket.if_nameindex()] == ["lo"], "the jail should have no network but loopback"
    assert os.getpid() < 10, "the jail should have its own pid namespace"


@pytest.fixture(scope="module")
def results():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("FACTORY_SANDBOX_DISABLE", raising=False)
        got = run_rows(ROWS)
    for row in ROWS:
        res = got[row.id]
        _report("row", id=row.id, cls=row.cls, expected=expected_text(row), passed=res.passed, reason=res.reason,
                details=res.details, ok=matches(row, res), seconds=round(res.seconds, 3))
    return got


@pytest.mark.jail_only
@pytest.mark.parametrize("row_id", [row.id for row in ROWS])
def test_row(results, row_id):
    row, got = BY_ID[row_id], results[row_id]
    assert matches(row, got), (f"{row.id} [{row.cls}, defence {row.defence}]: expected {expected_text(row)}, "
                               f"got ({got.passed}, {got.reason}) in {got.seconds:.2f} s: {got.details[:600]}")


def _mutated(switches: str, rows: list[Row]) -> dict[str, Result]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACTORY_SANDBOX_DISABLE", switches)
        return run_rows(rows)


@pytest.mark.jail_only
@pytest.mark.parametrize("switch", SWITCHES)
def test_mutation_switching_a_defence_off_lets_an_attack_through(switch):
    rows = [row for row in ROWS if row.mutate and row.defence == switch]
    assert rows, f"no row is tagged for the {switch} mutation"
    got = _mutated(switch, rows)
    flipped = [row.id for row in rows if not matches(row, got[row.id])]
    table = _table(rows, got)
    _report("mutation", switch=switch, verdict=f"{len(flipped)}/{len(rows)} rows changed: {flipped}", table=table)
    assert flipped, f"with {switch} off every row tagged {switch} still got its expected verdict:\n{table}"


@pytest.mark.jail_only
def test_mutation_capabilities_are_defence_in_depth():
    """Dropping capabilities is defence in depth behind seccomp: it must change some verdict of a
    row tagged `capabilities`, alone or (where seccomp would have stopped the row first) with
    seccomp off too. Both are reported."""
    rows = [row for row in ROWS if row.mutate and row.defence == "capabilities"]
    assert rows, "no row is tagged for the capabilities mutation"
    alone = _mutated("capabilities", rows)
    seccomp_only = _mutated("seccomp", rows)
    both = _mutated("seccomp,capabilities", rows)
    flipped_alone = [row.id for row in rows if not matches(row, alone[row.id])]
    differ = [row.id for row in rows if seccomp_only[row.id][:2] != both[row.id][:2]]
    table = (f"capabilities off:\n{_table(rows, alone)}\nseccomp off:\n{_table(rows, seccomp_only)}\n"
             f"seccomp and capabilities off:\n{_table(rows, both)}")
    _report("mutation", switch="capabilities",
            verdict=f"alone changes {flipped_alone or 'nothing'}; with seccomp off as well, capabilities change "
                    f"{differ or 'nothing'}", table=table)
    assert flipped_alone or differ, f"keeping capabilities changed no verdict, with or without seccomp:\n{table}"
