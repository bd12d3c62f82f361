"""A stand-in for the leanprover-community REPL, for tests on machines without Lean.

    python fake_repl.py TRANSCRIPT.jsonl

Speaks the REPL's protocol (a JSON command per paragraph on stdin, a multi-line JSON answer
and a blank line on stdout, env ids counted per process from 0, `Unknown environment.` for an
id this process never gave out) and replays answers from TRANSCRIPT: the first entry whose
`match` occurs in the command's text (and whose `has_env`, if given, says whether the command
carries an `env`) supplies the `response`, or a `behaviour`:

    hang          never answer (the pool must time out and kill us)
    crash         abort (SIGABRT), as a Lean panic would
    sigkill       die by SIGKILL, as under the kernel's OOM killer
    grow_mb: N    keep N more MB resident, then answer
    balloon       grow by 16 MB every 20 ms (up to 600 MB) and never answer

Every command received is appended to $FAKE_REPL_LOG as {"pid", "cmd", "env"}, so a test can
count what each process was asked."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

_HELD: list[bytearray] = []  # memory kept resident on purpose


def read_command() -> str | None:
    """Lines up to a blank line, as the REPL's `getLines`; None at end of input."""
    lines = []
    for line in sys.stdin:
        if line.strip():
            lines.append(line)
        elif lines:
            return "".join(lines)
    return "".join(lines) or None


def hold_mb(mb: int) -> None:
    _HELD.append(bytearray(b"x") * (mb << 20))  # filled, so the pages are really resident


def behave(entry: dict) -> None:
    kind = entry.get("behaviour")
    if kind == "hang":
        time.sleep(3600)
    elif kind == "crash":
        sys.stderr.write("INTERNAL PANIC: unreachable code has been reached\n")
        sys.stderr.flush()
        os.abort()
    elif kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "balloon":
        for _ in range(600 // 16):
            hold_mb(16)
            time.sleep(0.02)
        time.sleep(3600)
    elif "grow_mb" in entry:
        hold_mb(int(entry["grow_mb"]))


def find(transcript: list[dict], command: dict) -> dict | None:
    text = command.get("cmd", "")
    for entry in transcript:
        if entry.get("match", "") in text and entry.get("has_env", "env" in command) == ("env" in command):
            return entry
    return None


def answer(transcript: list[dict], command: dict, next_env: int) -> dict:
    if "env" in command and not 0 <= command["env"] < next_env:
        return {"message": "Unknown environment."}
    entry = find(transcript, command)
    if entry is None:
        return {"message": f"fake repl: no transcript entry for {command.get('cmd', '')[:200]!r}"}
    behave(entry)
    response = dict(entry["response"])
    if "env" in response:
        response["env"] = next_env
    return response


def main() -> None:
    transcript = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
    log = os.environ.get("FAKE_REPL_LOG")
    next_env = 0
    while (raw := read_command()) is not None:
        command = json.loads(raw)
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"pid": os.getpid(), "cmd": command.get("cmd"), "env": command.get("env")}) + "\n")
        response = answer(transcript, command, next_env)
        next_env += "env" in response
        sys.stdout.write(json.dumps(response, indent=1, ensure_ascii=False) + "\n\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
