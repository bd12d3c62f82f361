"""A local Ray head for users without a cluster: `factory cluster up --local` / `down`.

`ray stop` kills every Ray process on the machine (a colleague's head, a test's private Ray),
so `down` never calls it. `up` starts the head with its own short `--temp-dir` (Ray's socket
paths must stay under ~107 characters) in a new session (`start_new_session`: every daemon
`ray start` spawns shares the session id of that `ray start` process), and records the temp
dir, the session id and the pids in a state file. `down` stops exactly the processes that are
in that session, or mention that temp dir on their command line, or descend from either (Ray
workers and job drivers are children of the raylet) — nothing else.

`ray start --node-ip-address 127.0.0.1` is rewritten by Ray to the node's routable IP (Ray's
`resolve_ip_for_localhost`), and the GCS and raylet then listen on every interface;
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` is Ray's single-node switch that keeps the node IP on
loopback. The dashboard (and so the Jobs API) binds 127.0.0.1 via `--dashboard-host`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from factory.errors import FactoryError, require

DEFAULT_PORT = 6379
DEFAULT_DASHBOARD_PORT = 8265


def default_state_path() -> Path:
    root = os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "reasoning-factory"
    return Path(root) / "local-head.json"


@dataclass
class LocalHead:
    """What `up` started; the state file holds exactly this."""

    temp_dir: str
    session_id: int  # the pid of the `ray start` that was made a session leader
    port: int
    dashboard_port: int
    pids: list[list[float]] = field(default_factory=list)  # [pid, create_time] of each process seen after start
    started_at: float = field(default_factory=time.time)

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LocalHead | None:
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise FactoryError(f"{path}: not a local-head state file ({exc}); remove it by hand") from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is not "taken"
        try:
            s.bind(("0.0.0.0", port))  # the GCS binds every interface, so test that
        except OSError:
            return True
    return False


def _ray_executable() -> str:
    require("ray", "ray")
    beside = Path(sys.executable).parent / "ray"
    found = str(beside) if beside.exists() else shutil.which("ray")
    if not found:
        raise FactoryError("the 'ray' command is not on PATH; install it with: pip install -e '.[ray]'")
    return found


def processes(head: LocalHead) -> list[Any]:
    """The live processes of this head: its session, anything naming its temp dir, and their
    descendants. Pids recorded at start-up count only if their start time still matches."""
    import psutil

    found: dict[int, Any] = {}
    recorded = {int(pid): created for pid, created in head.pids}
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        try:
            cmdline = proc.info["cmdline"] or []
            mine = ((os.getsid(proc.pid) == head.session_id and "ray" in " ".join(cmdline))  # not a reused pid
                    or any(head.temp_dir in arg for arg in cmdline)
                    or abs(recorded.get(proc.pid, -1e9) - proc.info["create_time"]) < 1e-3)
        except (psutil.Error, OSError):
            continue
        if mine and proc.pid != os.getpid():
            found[proc.pid] = proc
    for proc in list(found.values()):
        try:
            found.update({c.pid: c for c in proc.children(recursive=True)})
        except psutil.Error:
            pass
    found.pop(os.getpid(), None)
    return [p for p in found.values() if _alive(p)]


def _alive(proc: Any) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[Any], timeout_s: float) -> list[Any]:
    """Waits until every process has exited; returns those still running. A zombie counts as
    gone: the daemons were reparented to pid 1, which need not reap them (as in containers)."""
    deadline = time.monotonic() + timeout_s
    alive = [p for p in procs if _alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(p)]
    return alive


def dashboard_ready(url: str, timeout_s: float = 2.0) -> bool:
    """Whether the dashboard answers HTTP; 401 counts (Ray enables token auth by itself when
    ~/.ray/auth_token exists, and the Jobs SDK sends that token)."""
    try:
        with urllib.request.urlopen(f"{url}/api/version", timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def up(state: Path | None = None, port: int = DEFAULT_PORT, dashboard_port: int = DEFAULT_DASHBOARD_PORT,
       num_cpus: int | None = None, num_gpus: int | None = None, env: dict[str, str] | None = None,
       timeout_s: float = 180.0) -> LocalHead:
    """Start a head on this machine, dashboard on 127.0.0.1:`dashboard_port`; record it in `state`."""
    import psutil  # noqa: F401  (a ray[default] dependency; fail before starting anything)

    state = state or default_state_path()
    old = LocalHead.load(state)
    if old is not None:
        if processes(old):
            raise FactoryError(f"a local head started by 'factory cluster up' is already running "
                               f"(dashboard {old.dashboard_url}, state {state}); stop it with 'factory cluster down'")
        state.unlink()  # stale: its processes are gone
    for name, p in (("--port", port), ("--dashboard-port", dashboard_port)):
        if _port_taken(p):
            raise FactoryError(f"port {p} ({name}) is already in use on this machine; pick another with {name}")
    ray = _ray_executable()
    temp_dir = tempfile.mkdtemp(prefix="rf-", dir="/tmp")  # short: Ray's socket paths have a length limit
    cmd = [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1",
           "--port", str(port), "--dashboard-port", str(dashboard_port), "--include-dashboard", "true",
           "--temp-dir", temp_dir, "--disable-usage-stats",
           # fixed defaults that a second head on the machine would collide on
           "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port())]
    if num_cpus is not None:
        cmd += ["--num-cpus", str(num_cpus)]
    if num_gpus is not None:
        cmd += ["--num-gpus", str(num_gpus)]
    child_env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
                 # job entrypoints (`factory run ...`) resolve to this installation's commands
                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    proc = subprocess.Popen(cmd, env=child_env, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    head = LocalHead(temp_dir=temp_dir, session_id=proc.pid, port=port, dashboard_port=dashboard_port)
    head.save(state)  # before waiting: a `down` after a failed or interrupted `up` still finds it
    try:
        output, _ = proc.communicate(timeout=timeout_s)
        if proc.returncode != 0:
            tail = " | ".join(line for line in output.strip().splitlines()[-3:])
            raise FactoryError(f"ray start failed (exit {proc.returncode}): {tail}")
        deadline = time.monotonic() + timeout_s
        while not dashboard_ready(head.dashboard_url):
            if time.monotonic() > deadline:
                raise FactoryError(f"the Ray dashboard did not come up on {head.dashboard_url} in {timeout_s:.0f} s")
            time.sleep(0.5)
    except BaseException:
        down(state)
        raise
    head.pids = [[p.pid, p.create_time()] for p in processes(head)]
    head.save(state)
    return head


def down(state: Path | None = None, grace_s: float = 3.0) -> int:
    """Stop the processes of the head `up` recorded in `state` (only those); returns how many.
    SIGTERM, then SIGKILL after `grace_s`: gcs_server, raylet, the autoscaler monitor and the
    runtime-env agent ignore SIGTERM here, and a local head holds nothing worth a graceful drain
    (`ray.shutdown` of a local Ray kills its processes outright too)."""
    state = state or default_state_path()
    head = LocalHead.load(state)
    if head is None:
        raise FactoryError(f"no local head recorded in {state}: 'factory cluster down' stops only "
                           f"what 'factory cluster up --local' started")
    procs = processes(head)
    _signal(procs, "terminate")
    alive = _wait_gone(procs, grace_s)
    _signal(alive, "kill")
    _wait_gone(alive, 5.0)
    late = processes(head)  # anything a dying raylet spawned in between
    _signal(late, "kill")
    state.unlink(missing_ok=True)
    shutil.rmtree(head.temp_dir, ignore_errors=True)
    return len(procs) + len(late)


def _signal(procs: list[Any], method: str) -> None:
    import psutil

    for proc in procs:
        try:
            getattr(proc, method)()
        except psutil.Error:
            pass


def status(state: Path | None = None) -> tuple[LocalHead | None, int]:
    """The recorded head (or None) and how many of its processes are alive."""
    head = LocalHead.load(state or default_state_path())
    return head, (len(processes(head)) if head else 0)
