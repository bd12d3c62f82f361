"""Host side of the code sandbox: a pool of bubblewrap'ed fork servers, a batch API, and the
verdict, which is decided here from what the server saw (see runner.py for the processes).

Isolation, all on by default: each fork server runs under `bwrap` in its own user, pid, net,
ipc and uts namespaces (no network) as uid 65534 outside the sandbox too (`setpriv`, when we
are root), on a read-only view of /usr only, no /proc, a read-only root. Its only capability,
CAP_SYS_ADMIN inside its user namespace, lets it give every execution fresh mount/pid/ipc
namespaces with size-capped tmpfs /tmp and /dev/shm; the executed roles drop it.

Liveness is kept by the host: every answer is awaited with a clock (the job's wall limit plus a
grace), a worker that misses it is killed with its whole sandbox and restarted, and the
sandbox dies with the thread that owns it (`--die-with-parent`) and with this process.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from factory.errors import FactoryError

HERE = Path(__file__).resolve().parent
SANDBOX_PYTHON_CANDIDATES = ("/usr/bin/python3", "/usr/local/bin/python3")
STAGED = ("runner.py", "zygote.py", "candidate_side.py", "test_side.py", "proxies.py", "wire.py", "policy.py")
HOST_GRACE_S = 5.0  # on top of the job's wall limit, before the host declares a worker hung
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Limits:
    wall_s: float = 5.0
    cpu_s: float = 4.0
    memory_mb: int = 512
    file_mb: int = 16
    tmp_mb: int = 64
    output_bytes: int = 1 << 20


@dataclass
class Execution:
    code: str
    mode: str = "assert"  # "assert": tests run in their own process against proxies; "io": stdin in, stdout compared
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
    """Copy the server's files and pyseccomp where the sandbox user can read them."""
    try:
        import pyseccomp
    except ImportError:
        raise FactoryError("code sandbox needs pyseccomp: pip install -e '.[code]'") from None
    sources = [HERE / name for name in STAGED] + [Path(pyseccomp.__file__)]
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


def disabled_defences() -> str:
    """`FACTORY_SANDBOX_DISABLE` (comma-separated) switches defences off for the mutation check."""
    return os.environ.get("FACTORY_SANDBOX_DISABLE", "")


def bwrap_command(stage: Path, python: str) -> list[str]:
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise FactoryError("code sandbox needs bubblewrap: apt-get install bubblewrap (setup.sh does this)")
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
           "--cap-add", "CAP_SYS_ADMIN", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
           "--setenv", "LANG", "C.UTF-8", "--setenv", "FACTORY_SANDBOX_DISABLE", disabled_defences(),
           "--setenv", "FACTORY_SANDBOX_DEBUG", os.environ.get("FACTORY_SANDBOX_DEBUG", ""),
           "--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "bin", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    if Path("/etc/ld.so.cache").exists():
        cmd += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    cmd += ["--ro-bind", str(stage), "/sandbox", "--size", str(1 << 20), "--tmpfs", "/tmp",
            "--dev", "/dev", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp",
            "--", python, "-I", "-S", "-X", "int_max_str_digits=0", "/sandbox/runner.py"]
    if os.geteuid() == 0:  # run as nobody outside the sandbox too: root would ignore RLIMIT_NPROC
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"] + cmd
    return cmd


class SandboxWorker:
    """One fork server. Its process belongs to a thread of its own that lives until close(),
    so `--die-with-parent` fires when this worker or this process ends, and not before."""

    def __init__(self) -> None:
        self._cmd = bwrap_command(_stage_files(), _sandbox_python())
        self._proc: subprocess.Popen | None = None
        self._stop: threading.Event | None = None

    def _start(self) -> None:
        started: queue.Queue = queue.Queue()
        stop = threading.Event()

        def own() -> None:
            try:
                proc = subprocess.Popen(self._cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
                                        stderr=None if os.environ.get("FACTORY_SANDBOX_DEBUG") else subprocess.DEVNULL)
            except OSError as exc:
                started.put(exc)
                return
            started.put(proc)
            stop.wait()

        threading.Thread(target=own, daemon=True, name="sandbox-owner").start()
        proc = started.get()
        if isinstance(proc, OSError):
            raise FactoryError(f"code sandbox failed to start: {proc}")
        self._proc, self._stop = proc, stop
        hello = self._recv(time.monotonic() + START_TIMEOUT_S)
        if not hello or not hello.get("ready"):
            self.close()
            raise FactoryError(f"code sandbox failed to start (got {hello!r}); "
                               "set FACTORY_SANDBOX_DEBUG=1 to see its stderr")

    def _read(self, size: int, deadline: float) -> bytes | None:
        assert self._proc and self._proc.stdout
        fd, chunks, left = self._proc.stdout.fileno(), [], size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(fd, left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _recv(self, deadline: float) -> dict[str, Any] | None:
        head = self._read(4, deadline)
        if head is None:
            return None
        body = self._read(struct.unpack("<I", head)[0], deadline)
        return None if body is None else json.loads(body)

    def execute(self, job: dict[str, Any], answer_within: float) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        data = json.dumps(job).encode()
        try:
            assert self._proc and self._proc.stdin
            self._proc.stdin.write(struct.pack("<I", len(data)) + data)
            self._proc.stdin.flush()
            answer = self._recv(time.monotonic() + answer_within)
        except TimeoutError:
            self.close()
            return {"error": "the sandbox did not answer in time; it was killed and will restart", "hung": True}
        except (BrokenPipeError, OSError, ValueError):
            answer = None
        if answer is None:
            self.close()
            return {"error": "sandbox worker died"}
        return answer

    def close(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                try:
                    stream.close()
                except (OSError, AttributeError):
                    pass
            self._proc = None
        if self._stop is not None:
            self._stop.set()
            self._stop = None


def _normalise_output(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


_LAST_LINE_REASONS = (("SyntaxError", "syntax_error"), ("IndentationError", "syntax_error"), ("TabError", "syntax_error"),
                      ("MemoryError", "memory"), ("PermissionError: [Errno 1]", "sandbox_violation"),
                      ("OSError: [Errno 27]", "output_limit"), ("OSError: [Errno 28]", "output_limit"))


def _program_failure(status: dict[str, Any] | None, stderr: str) -> tuple[str, str] | None:
    """How the candidate process ended, when that alone fails it. The reason is for reports
    only: every value here is a failure, so a program that fakes one gains nothing."""
    if not status or "error" in status:
        return None
    sig = status.get("signal")
    if sig in (signal.SIGXCPU, signal.SIGKILL):  # SIGKILL: the CPU hard limit
        return "timeout", "time limit exceeded"
    if sig == signal.SIGXFSZ:
        return "output_limit", "file size limit exceeded"
    if sig == signal.SIGSYS:
        return "sandbox_violation", "forbidden system call (ptrace, process memory, namespaces, ...)"
    if sig is not None:
        try:
            name = signal.Signals(sig).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {sig}"
        return "crash", f"killed by {name}"
    if status.get("exit") not in (0, None):
        last = next((line for line in reversed(stderr.splitlines()) if line.strip()), f"exit status {status.get('exit')}")
        reason = next((r for marker, r in _LAST_LINE_REASONS if last.startswith(marker)), "runtime_error")
        return reason, last[:500]
    return None


def judge(execution: Execution, raw: dict[str, Any]) -> ExecResult:
    """Turn what the server saw into a verdict: stdout is compared here, on the host; assert
    tests pass only on the test process's report, which the candidate never holds."""
    if "error" in raw:
        return ExecResult("timeout" if raw.get("hung") else "error", False, raw["error"])
    cand = raw.get("candidate") or {}
    status = cand.get("status") or {}
    base = dict(stdout=cand.get("stdout", "")[:4000], stderr=cand.get("stderr", "")[-2000:],
                wall_ms=raw.get("wall_ms", 0.0), cpu_ms=status.get("cpu_ms", 0.0))
    if raw.get("killed") == "output":
        return ExecResult("output_limit", False, "output limit exceeded", **base)
    if raw.get("killed") == "wall":
        return ExecResult("timeout", False, "wall-clock limit exceeded", **base)
    failure = _program_failure(status, cand.get("stderr", ""))
    if execution.mode == "io":
        if failure:
            return ExecResult(failure[0], False, failure[1], **base)
        if status.get("exit") != 0:
            return ExecResult("error", False, f"sandbox: {status.get('error', 'no exit status')}", **base)
        return _compare_stdout(execution, cand.get("stdout", ""), base)
    return _judge_tests(raw.get("tests") or {}, failure, base)


_REPORT_REASONS = {"assert": "wrong_answer", "no_asserts": "wrong_answer", "test_error": "runtime_error",
                   "bad_tests": "bad_input"}


def _judge_tests(tests: dict[str, Any], failure: tuple[str, str] | None, base: dict) -> ExecResult:
    try:
        report = json.loads(tests.get("report") or "null")
    except ValueError:
        report = None
    if not isinstance(report, dict):
        t_status = tests.get("status") or {}
        if t_status.get("signal") in (signal.SIGXCPU, signal.SIGKILL):
            return ExecResult("timeout", False, "the tests exceeded their time limit", **base)
        return ExecResult("error", False, f"the test process ended without a report: {t_status}", **base)
    kind, detail, asserts = report.get("status"), str(report.get("detail", "")), report.get("asserts", 0)
    if kind == "pass":
        return ExecResult("correct", True, f"{asserts} assertions held", **base)
    if kind == "gone":
        if failure:
            return ExecResult(failure[0], False, failure[1], **base)
        return ExecResult("wrong_answer", False, f"the candidate ended before the tests completed ({asserts} held)", **base)
    if kind == "candidate_error":
        reason = "memory" if detail.startswith("MemoryError") else "runtime_error"
        return ExecResult(reason, False, detail, **base)
    if kind == "protocol":
        return ExecResult("runtime_error", False, f"the candidate broke the call protocol: {detail}", **base)
    if kind == "no_asserts":
        detail = "no assertion ran"
    elif kind == "assert":
        detail = f"assertion failed: {detail}"
    return ExecResult(_REPORT_REASONS.get(kind, "error"), False, detail, **base)


def _compare_stdout(execution: Execution, stdout: str, base: dict) -> ExecResult:
    got, want = _normalise_output(stdout), _normalise_output(execution.expected_stdout or "")
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
        limits = execution.limits
        if execution.expected_stdout is not None:  # room for the expected output, however long
            limits = replace(limits, output_bytes=max(limits.output_bytes, 2 * len(execution.expected_stdout) + 65536))
        job = {"mode": execution.mode, "code": execution.code, "tests": execution.tests,
               "stdin": execution.stdin, "limits": asdict(limits)}
        try:
            raw = worker.execute(job, answer_within=execution.limits.wall_s + HOST_GRACE_S)
            return judge(execution, raw)
        except Exception as exc:  # a verdict, never a lost batch
            return ExecResult("error", False, f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        for w in self._workers:
            w.close()
