"""Check every row of the public code tables with plain, unsandboxed python.

    python tests/verifiers/data/code_public/check_plain.py [--python python3] [--timeout 20] [--jobs N]

An assert row passes when `solution + "\\n" + tests` exits 0 as a python3 program (stdin empty).
An io row passes when the solution, run as a python3 program with the case's input on stdin,
exits 0 and prints the expected output; trailing whitespace on each line and trailing blank
lines are ignored. Prints counts per file and every failure, and exits non-zero on any failure.

This is the ground truth the verifier is held to (tests/verifiers/test_code_public.py): every
row here is a correct program, so a verifier that fails one of them has a false fail.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = ("function_tests.jsonl", "stdio_tests.jsonl")


def default_python() -> str:
    """$CHECK_PYTHON, else the system /usr/bin/python3 (the interpreter the code sandbox runs
    candidates with), else the first python3 on PATH."""
    if os.environ.get("CHECK_PYTHON"):
        return os.environ["CHECK_PYTHON"]
    if os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return shutil.which("python3") or sys.executable


def load(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def normalize(text: str) -> str:
    """Trailing whitespace on each line and trailing blank lines do not count."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _run(python: str, program: str, stdin: str | None, timeout: float) -> tuple[int | None, str, str]:
    with tempfile.TemporaryDirectory(prefix="plain_") as tmp:
        path = Path(tmp) / "main.py"
        path.write_text(program, encoding="utf-8")
        try:
            proc = subprocess.run([python, str(path)], cwd=tmp, input=stdin if stdin is not None else "",
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "", f"timeout after {timeout}s"
        return proc.returncode, proc.stdout, proc.stderr


def check_assert(solution: str, code: str, python: str | None = None, timeout: float = 20.0) -> str | None:
    """None when the program with its tests exits 0, else the reason."""
    rc, _out, err = _run(python or default_python(), solution + "\n" + code, None, timeout)
    if rc == 0:
        return None
    return f"exit {rc}: {err.strip()[-400:]}" if rc is not None else err


def check_io(solution: str, stdin: str, expected: str, python: str | None = None, timeout: float = 20.0) -> str | None:
    rc, out, err = _run(python or default_python(), solution, stdin, timeout)
    if rc is None:
        return err
    if rc != 0:
        return f"exit {rc}: {err.strip()[-400:]}"
    if normalize(out) != normalize(expected):
        return f"wrong output: got {out[:200]!r}, expected {expected[:200]!r}"
    return None


def check_row(row: dict, python: str | None = None, timeout: float = 20.0) -> list[str]:
    """Every failure of one row, as 'case k: reason' strings (empty when the row is correct)."""
    failures = []
    specs = row["tests"] if isinstance(row["tests"], list) else [row["tests"]]
    k = 0
    for spec in specs:
        if spec["type"] == "assert":
            reason = check_assert(row["solution"], spec["code"], python, timeout)
            if reason:
                failures.append(f"case {k}: {reason}")
            k += 1
        else:
            for case in spec["cases"]:
                reason = check_io(row["solution"], case.get("input", ""), case["output"], python, timeout)
                if reason:
                    failures.append(f"case {k}: {reason}")
                k += 1
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=default_python(), help="interpreter to run rows with (default: python3)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per program run")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args(argv)
    bad = 0
    for name in FILES:
        rows = load(name)
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda r: check_row(r, args.python, args.timeout), rows))
        n_cases = sum(len(s.get("cases", [None])) for r in rows
                      for s in (r["tests"] if isinstance(r["tests"], list) else [r["tests"]]))
        failed = [(r["id"], f) for r, f in zip(rows, results) if f]
        by_source: dict[str, int] = {}
        for r in rows:
            key = r["source"].split(":")[0]
            by_source[key] = by_source.get(key, 0) + 1
        print(f"{name}: {len(rows)} rows, {n_cases} test cases, {len(rows) - len(failed)} pass, {len(failed)} fail"
              f"  ({', '.join(f'{k}: {v}' for k, v in sorted(by_source.items()))})")
        for rid, f in failed:
            print(f"  FAIL {rid}: {f[0]}" + (f" (+{len(f) - 1} more)" if len(f) > 1 else ""))
        bad += len(failed)
    print(f"python: {args.python}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
