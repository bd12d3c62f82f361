"""Inside the sandbox, below the server (stdlib + pyseccomp): the zygotes, which fork one
process per execution, and what that process does before it runs its role (fresh
filesystem, its own job data, rlimits, no capabilities, the seccomp filter). The process tree
is drawn in runner.py.
"""

import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAP_AMBIENT = 1, 38, 22, 47
MAX_JOB_BYTES = 64 << 20
TESTS_CONTROL_FD = 6
DISABLED = tuple(filter(None, os.environ.get("FACTORY_SANDBOX_DISABLE", "").split(",")))
DEBUG = bool(os.environ.get("FACTORY_SANDBOX_DEBUG"))  # keep stderr open where a role has none

_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- B: the sandboxed role -----

class SeccompLoader:
    """Everything for loading the filter is prepared before fork; B makes two prctl calls."""

    def __init__(self, program):
        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        self._program = program  # keeps the buffer alive
        self._prog = SockFprog(len(program) // 8, program)
        self._ref = ctypes.byref(self._prog)

    def load(self):
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or _libc.prctl(PR_SET_SECCOMP, 2, self._ref, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "seccomp filter could not be loaded")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_CAP_HEADER, _CAP_DATA = _CapHeader(0x20080522, 0), (_CapData * 2)()  # all zero: no capabilities


def drop_capabilities():
    """B inherits the namespace capabilities the server needs for mounts; the role has none."""
    if _libc.capset(ctypes.byref(_CAP_HEADER), _CAP_DATA) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    _libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL


def set_limits(limits, role):
    mem = int(limits["memory_mb"] if role != "tests" else max(2048, limits["memory_mb"])) * 2**20
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    cpu_limit = (cpu, cpu + 1) if role != "tests" else (resource.RLIM_INFINITY,) * 2  # long-lived: wall clock
    for res, value in ((resource.RLIMIT_AS, (mem, mem)), (resource.RLIMIT_CPU, cpu_limit),
                       (resource.RLIMIT_FSIZE, (int(limits["file_mb"]) << 20,) * 2),
                       (resource.RLIMIT_NOFILE, (64, 64)), (resource.RLIMIT_CORE, (0, 0)),
                       (resource.RLIMIT_NPROC, (64, 64))):
        if "rlimits" in DISABLED and res != resource.RLIMIT_CORE:
            continue
        try:
            resource.setrlimit(res, value)
        except (ValueError, OSError):
            pass


def _read_all(fd, cap):
    chunks, size = [], 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            os._exit(71)
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def role_main(spec, fds, program):
    """B: pid 1 of fresh namespaces. Its job data arrives only now, after the fork."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the zygote's death ends B
    os.setsid()  # kill(0, ...) signals the caller's process group: make it B's own
    job = json.loads(_read_all(fds[spec["job"]], MAX_JOB_BYTES).decode())
    targets = spec["targets"]
    high = [os.dup(fds[i]) for i in range(len(targets))]  # move out of the way, then into place
    for target, fd in zip(targets, high):
        os.dup2(fd, target)
    for fd in range(max(targets)):
        if fd not in targets and not (DEBUG and fd == 2):
            try:
                os.close(fd)
            except OSError:
                pass
    os.closerange(max(targets) + 1, 4096)
    os.chdir("/tmp")  # the new tmpfs (the environment and signal dispositions come from the zygote)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # KeyboardInterrupt, as in any Python
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
    set_limits(job["limits"], spec["role"])
    if "capabilities" not in DISABLED:
        drop_capabilities()
    program.load()
    gc.freeze()  # what B inherited stays shared: collections scan only the role's own objects
    if spec["role"] == "tests":
        import test_side
        test_side.serve(TESTS_CONTROL_FD)
    else:
        import candidate_side
        (candidate_side.run_io if job["mode"] == "io" else candidate_side.run_module)(job)
    os._exit(0)


# ---------------------------------------------------------------- A: namespaces and status --

def _check(rc, what):
    if rc != 0:
        raise OSError(ctypes.get_errno(), what)


def private_mounts():
    """The zygote's own mount namespace, so the tmpfs it mounts are its executions' alone."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")


def fresh_filesystem(tmp_mb):
    """New, empty, size-capped tmpfs on /tmp and /dev/shm for the next execution: the last
    one's are detached (the zygote never reads what is in them: no name a program wrote
    enters its memory). The rest of the tree is the read-only view bwrap built."""
    if "namespaces" in DISABLED:
        return
    for path, size in ((b"/tmp", tmp_mb), (b"/dev/shm", 8)):
        _libc.umount2(path, 2)  # MNT_DETACH; fails harmlessly the first time
        options = ("size=%dm,nr_inodes=4096,mode=1777" % size).encode()
        _check(_libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, options), "tmpfs")


def _status(status, usage):
    return json.dumps({
        "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000, "rss_kb": usage.ru_maxrss}).encode()


def _start_role(spec, fds, program):
    pid = os.fork()
    if pid == 0:
        try:
            role_main(spec, fds, program)
        except BaseException:
            if DEBUG:
                import traceback
                traceback.print_exc()
        finally:
            os._exit(70)
    for fd in fds:
        if fd != fds[spec["status"]]:
            os.close(fd)
    return pid


def zygote(sock, program):
    """pid 1 of its role's pid namespace. Forks one B per request with the fds it is handed,
    passes the server a pidfd of B, and writes B's wait status to B's status pipe. It never
    holds job data, so a B forked from it finds no test or other candidate in its memory."""
    running = {}  # pidfd -> (pid, status fd)
    private_mounts()
    os.environ.clear()
    os.environ.update({"HOME": "/tmp", "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets them at start-up, for the roles
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # pid 1 gets only the signals it handles from inside its namespace: handle none (Python's
    # SIGINT handler would let a program kill the zygote with kill(1, SIGINT)).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # glibc gives each thread a 64 MB malloc arena of address space: under RLIMIT_AS a thread
    # pool of ~20 could not start. Two arenas are plenty for a program's threads.
    _libc.mallopt(-8, 2)  # M_ARENA_MAX
    while True:
        ready = select.select([sock] + list(running), [], [])[0]
        for fd in ready:
            if fd not in running and fd is not sock:
                continue  # reaped already, before a fork
            if fd is sock:
                try:
                    msg, fds, _, _ = socket.recv_fds(sock, 4096, 16)
                except OSError:
                    os._exit(0)
                if not msg:
                    os._exit(0)
                spec = json.loads(msg.decode())
                for pidfd_ in list(running):  # the last execution is over (killed): reap it first
                    _reap(running, pidfd_)
                fresh_filesystem(spec["tmp_mb"])
                pid = _start_role(spec, fds, program)
                pidfd = os.pidfd_open(pid)
                running[pidfd] = (pid, fds[spec["status"]])
                socket.send_fds(sock, [b"%d" % pid], [pidfd])
                continue
            _reap(running, fd)


def _reap(running, pidfd):
    pid, status_fd = running.pop(pidfd)
    _, status, usage = os.wait4(pid, 0)
    try:
        os.write(status_fd, _status(status, usage))
    except OSError:
        pass
    os.close(status_fd)
    os.close(pidfd)


def start_zygote(program):
    """A zygote in a pid namespace of its own (the forking intermediary exits at once)."""
    server_sock, zygote_sock = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        server_sock.close()
        os.closerange(0, 2)
        _check(_libc.unshare(CLONE_NEWPID), "unshare pid")
        if os.fork() == 0:
            zygote(zygote_sock, program)
        os._exit(0)
    os.waitpid(pid, 0)
    zygote_sock.close()
    return server_sock


def supervise_unsafe(spec, fds, program):
    """Mutation check only ("zygote" disabled): B forked from the server's memory, which held
    the job, with a relay that writes its status."""
    keep = set(fds)
    for fd in range(1024):
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    status_fd = fds[spec["status"]]
    pid = _start_role(spec, fds, program)
    os.write(status_fd, _status(*os.wait4(pid, 0)[1:]))
    os._exit(0)
