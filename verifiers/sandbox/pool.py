"""Host side of the code sandbox: a pool of bubblewrap'ed fork servers and a batch API.

Isolation, all on by default: each fork server runs under `bwrap --unshare-all` (own user, pid,
net, ipc, uts namespaces: no network) as uid 65534 outside the sandbox too (`setpriv`, when we
are root), on a read-only view of /usr only, with a private tmpfs /tmp and no /proc. Every
execution is a fresh forked child with rlimits and a seccomp filter (see runner.py), so nothing
is shared between tests or candidates.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import FactoryError

HERE = Path(__file__).resolve().parent
SANDBOX_PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3")


@dataclass(frozen=True)
class Limits:
    wall_s: float = 5.0
    cpu_s: float = 4.0
    memory_mb: int = 512
    file_mb: int = 16
    output_bytes: int = 1 << 20


@dataclass
class Execution:
    code: str
    mode: str = "assert"  # "assert": tests run after the code; "io": stdin in, stdout compared
    tests: str = ""
    stdin: str = ""
    expected_stdout: str | None = None
    limits: Limits = field(default_factory=Limits)


@dataclass
class ExecResult:
    reason: str
    passed: bool
    detail: str = ""
    stdout: str = ""
    stderr: str = ""
    wall_ms: float = 0.0
    cpu_ms: float = 0.0


def _sandbox_python() -> str:
    for path in SANDBOX_PYTHON_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    raise FactoryError("code sandbox: no system python3 in /usr/bin (apt-get install python3-minimal)")


def _stage_files() -> Path:
    """Copy the runner, harness and pyseccomp where the sandbox user can read them."""
    try:
        import pyseccomp
    except ImportError:
        raise FactoryError("code sandbox needs pyseccomp: pip install -e '.[code]'") from None
    sources = [HERE / "runner.py", HERE / "harness.py", Path(pyseccomp.__file__)]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    stage = Path(tempfile.gettempdir()) / f"factory-sandbox-{digest}"
    if not (stage / "runner.py").exists():
        tmp = Path(tempfile.mkdtemp(prefix="factory-sandbox-"))
        for src in sources:
            shutil.copy(src, tmp / src.name)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, stage)
        except OSError:  # another process staged it first
            shutil.rmtree(tmp, ignore_errors=True)
    return stage


def bwrap_command(stage: Path, python: str) -> list[str]:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise FactoryError("code sandbox needs bubblewrap: apt-get install bubblewrap (setup.sh does this)")
    # No --die-with-parent: it fires when the *thread* that spawned bwrap exits (PR_SET_PDEATHSIG),
    # and pool threads come and go. The runner exits on EOF instead, and with it its pid namespace.
    cmd = [bwrap, "--unshare-all", "--new-session", "--cap-drop", "ALL", "--clearenv",
           "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
           "--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    if Path("/etc/ld.so.cache").exists():
        cmd += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    cmd += ["--ro-bind", str(stage), "/sandbox", "--size", str(256 << 20), "--tmpfs", "/tmp",
            "--dev", "/dev", "--chdir", "/tmp", "--", python, "-I", "-S", "/sandbox/runner.py"]
    if os.geteuid() == 0:  # run as nobody outside the sandbox too: root would ignore RLIMIT_NPROC
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] + cmd
    return cmd


class SandboxWorker:
    """One fork server; restarted if it dies."""

    def __init__(self) -> None:
        self._cmd = bwrap_command(_stage_files(), _sandbox_python())
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self._proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=None if os.environ.get("FACTORY_SANDBOX_DEBUG") else subprocess.DEVNULL)
        hello = self._recv()
        if not hello or not hello.get("ready"):
            raise FactoryError(f"code sandbox failed to start (got {hello!r}); "
                               "set FACTORY_SANDBOX_DEBUG=1 to see its stderr")

    def _recv(self) -> dict[str, Any] | None:
        assert self._proc and self._proc.stdout
        head = self._proc.stdout.read(4)
        if len(head) < 4:
            return None
        return json.loads(self._proc.stdout.read(struct.unpack("<I", head)[0]))

    def execute(self, job: dict[str, Any]) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        data = json.dumps(job).encode()
        try:
            assert self._proc and self._proc.stdin
            self._proc.stdin.write(struct.pack("<I", len(data)) + data)
            self._proc.stdin.flush()
            answer = self._recv()
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            self.close()
            return {"error": "sandbox worker died"}
        return answer

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


def _normalise_output(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def judge(execution: Execution, raw: dict[str, Any], nonce: str) -> ExecResult:
    """Turn what the fork server saw into a verdict. Only nonce-bearing harness lines count."""
    base = dict(stdout=raw.get("stdout", "")[:4000], stderr=raw.get("stderr", "")[-2000:],
                wall_ms=raw.get("wall_ms", 0.0), cpu_ms=raw.get("cpu_ms", 0.0))
    if "error" in raw:
        return ExecResult("error", False, raw["error"], **base)
    events = []
    for line in raw.get("harness", "").splitlines():
        head, _, rest = line.partition(" ")
        if head == nonce:
            kind, _, text = rest.partition(" ")
            events.append((kind, text))
    kinds = {k for k, _ in events}
    first = {k: t for k, t in reversed(events)}
    sig = raw.get("signal")
    if raw.get("killed") == "output" or sig == signal.SIGXFSZ:
        return ExecResult("output_limit", False, "output or file size limit exceeded", **base)
    if raw.get("killed") == "wall" or sig in (signal.SIGXCPU, signal.SIGKILL):  # SIGKILL: the CPU hard limit
        return ExecResult("timeout", False, "time limit exceeded", **base)
    if sig == signal.SIGSYS:
        return ExecResult("sandbox_violation", False, "forbidden system call (fork/exec/socket/...)", **base)
    if "MEMORY" in kinds:
        return ExecResult("memory", False, "memory limit exceeded", **base)
    if sig is not None:
        return ExecResult("crash", False, f"killed by {signal.Signals(sig).name}", **base)
    if "SYNTAX" in kinds:
        return ExecResult("syntax_error", False, first["SYNTAX"], **base)
    if execution.mode == "io":
        return _judge_io(execution, raw, kinds, first, base)
    if "FAIL" in kinds:
        return ExecResult("wrong_answer", False, "assertion failed: " + first["FAIL"], **base)
    if "ERROR" in kinds:
        return ExecResult("runtime_error", False, first["ERROR"], **base)
    if "NOTESTS" in kinds:
        return ExecResult("wrong_answer", False, "the candidate exited before the tests ran", **base)
    if "BADTESTS" in kinds:
        return ExecResult("bad_input", False, "tests do not compile: " + first["BADTESTS"], **base)
    ok = sum(1 for k, _ in events if k == "OK")
    if "END" in kinds and first["END"] == "asserts" and ok >= 1:
        return ExecResult("correct", True, f"{ok} assertions held", **base)
    return ExecResult("wrong_answer", False, "the test harness did not complete", **base)


def _judge_io(execution: Execution, raw: dict[str, Any], kinds: set, first: dict, base: dict) -> ExecResult:
    if "ERROR" in kinds:
        return ExecResult("runtime_error", False, first["ERROR"], **base)
    if "EXIT" in kinds and first["EXIT"] != "0":
        return ExecResult("runtime_error", False, f"exit status {first['EXIT']}", **base)
    if "END" not in kinds:
        return ExecResult("runtime_error", False, "the program did not complete normally", **base)
    got, want = _normalise_output(raw.get("stdout", "")), _normalise_output(execution.expected_stdout or "")
    if got == want:
        return ExecResult("correct", True, "output matches", **base)
    for i, (g, w) in enumerate(zip(got + [""] * len(want), want + [""] * len(got))):
        if g != w:
            return ExecResult("wrong_answer", False, f"line {i + 1}: expected {w[:100]!r}, got {g[:100]!r}", **base)
    return ExecResult("wrong_answer", False, "output differs", **base)


def default_workers() -> int:
    """The CPUs this process may use for verification: `FACTORY_VERIFY_CPUS` when an executor
    set it (a Ray verification actor is allotted 1 CPU, not the node's), else the machine's."""
    allotted = os.environ.get("FACTORY_VERIFY_CPUS", "")
    return max(1, int(float(allotted))) if allotted.strip() else os.cpu_count() or 1


class SandboxPool:
    """Runs executions on `workers` fork servers in parallel; results keep input order."""

    def __init__(self, workers: int | None = None) -> None:
        self.size = workers or default_workers()
        self._workers = [SandboxWorker() for _ in range(self.size)]
        self._lock = threading.Lock()

    def run(self, execution: Execution) -> ExecResult:
        return self.run_batch([execution])[0]

    def run_batch(self, executions: list[Execution]) -> list[ExecResult]:
        results: list[ExecResult] = [None] * len(executions)  # type: ignore[list-item]  # every slot is filled
        todo: queue.Queue = queue.Queue()
        for i, ex in enumerate(executions):
            todo.put(i)

        def serve(worker: SandboxWorker) -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                results[i] = self._execute(worker, executions[i])

        with self._lock:  # one batch at a time owns the workers
            threads = [threading.Thread(target=serve, args=(w,), daemon=True)
                       for w in self._workers[: max(1, min(self.size, len(executions)))]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return results

    @staticmethod
    def _execute(worker: SandboxWorker, execution: Execution) -> ExecResult:
        nonce = secrets.token_hex(16)
        job = {"mode": execution.mode, "code": execution.code, "tests": execution.tests,
               "stdin": execution.stdin, "nonce": nonce, "limits": asdict(execution.limits)}
        try:
            raw = worker.execute(job)
        except FactoryError as exc:
            return ExecResult("error", False, str(exc))
        return judge(execution, raw, nonce)

    def close(self) -> None:
        for w in self._workers:
            w.close()
