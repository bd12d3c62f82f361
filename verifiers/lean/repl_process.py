"""One process of the leanprover-community REPL (https://github.com/leanprover-community/repl).

Protocol: a JSON command per paragraph on stdin (`{"cmd": "...", "env": N}` then a blank line);
the REPL answers each with one JSON object (possibly spread over several lines) and a blank
line. A reader thread splits stdout into responses, so a command can wait with a deadline and
sample the process's memory meanwhile, which a blocking read could do neither of."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

_EOF = object()


class ReplTimeout(Exception):
    """The command overran its bound; the process was killed."""


class ReplDied(Exception):
    """The process exited or was killed mid-command; `reason` is `crash` or `memory`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0  # a zombie has no VmRSS line


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_rss_mb(pid: int) -> float:
    """VmRSS of `pid` and all its descendants: `lake env repl` runs the REPL as lake's child."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += _rss_kb(p)
            todo += _children(p)
        except (OSError, ValueError):  # the process exited while we looked
            continue
    return total / 1024


def parse_response(chunk: str) -> dict | None:
    """One response; some REPL builds print log lines before the JSON, so try from each `{` line."""
    starts = [0] + [i + 1 for i in range(len(chunk) - 1) if chunk[i] == "\n" and chunk[i + 1] == "{"]
    for start in starts:
        try:
            value = json.loads(chunk[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


class ReplProcess:
    """A running REPL with the header environments it has compiled (header text → env id)."""

    def __init__(self, argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> None:
        # Own session: a timeout kills lake and the REPL under it together (killpg).
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                                     start_new_session=True)
        self.commands = 0
        self.header_envs: dict[str, int] = {}
        self.peak_rss_mb = 0.0
        self._responses: queue.Queue[Any] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=40)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        rss = tree_rss_mb(self.proc.pid) if self.alive() else 0.0
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        return rss

    def _read_stdout(self) -> None:
        chunk: list[str] = []
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if line.strip():
                chunk.append(line)
                continue
            response = parse_response("".join(chunk)) if chunk else None
            chunk = []
            if response is not None:
                self._responses.put(response)
        response = parse_response("".join(chunk)) if chunk else None
        if response is not None:  # an answer cut off before its blank line still counts
            self._responses.put(response)
        self._responses.put(_EOF)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:  # type: ignore[union-attr]
            self._stderr.append(line)

    def send(self, command: dict, timeout_s: float, kill_memory_mb: float | None = None,
             poll_s: float = 0.1) -> dict:
        """The response to `command`; raises ReplTimeout or ReplDied (the process is then gone)."""
        self.commands += 1
        try:
            self.proc.stdin.write(json.dumps(command, ensure_ascii=False) + "\n\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise self._died() from None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                response = self._responses.get(timeout=max(0.0, min(poll_s, deadline - time.monotonic())))
            except queue.Empty:
                self._check_bounds(deadline, timeout_s, kill_memory_mb)
                continue
            if response is _EOF:
                raise self._died()
            return response

    def _check_bounds(self, deadline: float, timeout_s: float, kill_memory_mb: float | None) -> None:
        if kill_memory_mb is not None and self.rss_mb() > kill_memory_mb:
            self.kill()
            raise ReplDied("memory", f"Lean killed: resident memory {self.peak_rss_mb:.0f} MB over the "
                                     f"{kill_memory_mb:.0f} MB bound")
        if time.monotonic() >= deadline:
            self.kill()
            raise ReplTimeout(f"no answer after {timeout_s:g}s")

    def _died(self) -> ReplDied:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:  # stdout closed but the process lingers: make it certain
            self.kill()
            code = self.proc.returncode
        tail = "".join(self._stderr)[-600:].strip()
        detail = f"the Lean REPL exited with status {code}" + (f": {tail}" if tail else "")
        # SIGKILL that we did not send is almost always the kernel's OOM killer.
        if code == -signal.SIGKILL:
            return ReplDied("memory", detail + " (killed; likely out of memory)")
        return ReplDied("crash", detail)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self, grace_s: float = 2.0) -> None:
        """The REPL exits at end of input; kill it if it does not within `grace_s`."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(grace_s)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.alive():
            self.kill()
