"""A thread-safe per-call time bound: the work runs in a long-lived child process that is
killed and replaced when a call overruns. SIGALRM works only on the main thread (Math-Verify
issues #42/#50/#55), and a thread cannot be killed, so a process is the only real bound."""

from __future__ import annotations

import importlib
import multiprocessing as mp
import threading
from typing import Any


def _serve(conn: Any, target: str) -> None:
    module_name, _, name = target.partition(":")
    module = importlib.import_module(module_name)
    fn = getattr(module, name)
    getattr(module, "warm_worker", lambda: None)()  # heavy imports happen before "ready"
    conn.send(("ready", None))
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", fn(*args)))
        except Exception as exc:  # reported to the caller, never fatal to the worker
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class CallTimeout(Exception):
    """The call overran its bound; the worker was killed."""


class WorkerDied(Exception):
    """The worker exited mid-call (out of memory, a crash in native code)."""


class BoundedWorker:
    """Calls `module:function` in a child process with a wall-clock bound per call."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self._ready = False

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # fork is unsafe beside threads (vLLM, tokenizers)
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.target), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        self._ready = False

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
            self._conn.close()
        self._proc = self._conn = None

    def call(self, args: tuple, timeout_s: float, startup_s: float = 60.0) -> Any:
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._stop()
                self._start()
            if not self._ready:
                self._await_ready(startup_s)
            self._conn.send(args)
            # Start-up (imports) is bounded separately, before the call: the call itself always
            # gets exactly timeout_s, also the first one after a restart.
            if not self._conn.poll(timeout_s):
                self._stop()
                self._start()  # start its replacement now: the next call waits less for it
                raise CallTimeout(f"no result after {timeout_s:g}s")
            try:
                status, value = self._conn.recv()
            except EOFError:
                self._stop()
                raise WorkerDied("verifier worker died (out of memory or crash)") from None
            if status == "error":
                raise RuntimeError(value)
            return value

    def _await_ready(self, startup_s: float) -> None:
        try:
            self._ready = bool(self._conn.poll(startup_s)) and self._conn.recv()[0] == "ready"
        except EOFError:
            self._ready = False
        if not self._ready:
            self._stop()
            raise WorkerDied(f"verifier worker did not start within {startup_s:g}s")

    def close(self) -> None:
        with self._lock:
            self._stop()
