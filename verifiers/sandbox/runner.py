"""The fork server that runs inside bubblewrap (stdlib + pyseccomp only; started with -I -S).

It reads length-prefixed JSON jobs on stdin and answers each on stdout. Per job it forks one
child that: gets a fresh private directory, rlimits (memory, CPU, file size, open files,
processes), a seccomp filter (no fork/exec, no inet sockets, no ptrace, no namespace or mount
calls: each kills it with SIGSYS), and then runs the candidate and, separately, the test
harness. The child reports each assertion on a private pipe as it is evaluated; the verdict
is built here from those reports and from how the child ended, never from its exit code or
its prints alone.
"""

import json
import os
import resource
import select
import signal
import struct
import sys
import time

HARNESS_FD = 3
NONCE_FD = 4


def _read_exact(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_msg(fd):
    """Protocol on raw fds 0/1: sys.stdin/sys.stdout stay untouched (and empty) for the child."""
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack("<I", head)[0])
    return None if body is None else json.loads(body.decode())


def write_msg(fd, obj):
    data = json.dumps(obj).encode()
    data = struct.pack("<I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


# ---------------------------------------------------------------- the child ------------------

def build_seccomp_program(server_pid):
    """Compile the child's filter once per server (libseccomp takes ~3 ms; loading takes µs)."""
    import tempfile

    import pyseccomp as sc

    kill = sc.KILL_PROCESS if hasattr(sc, "KILL_PROCESS") else sc.KILL
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in ("fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
                 "mount", "umount2", "unshare", "setns", "chroot", "pivot_root", "bpf", "perf_event_open",
                 "keyctl", "add_key", "request_key", "kexec_load", "init_module", "finit_module",
                 "delete_module", "reboot", "swapon", "swapoff", "tee", "splice", "vmsplice",
                 "io_uring_setup", "userfaultfd", "personality", "setsid", "setpgid", "tkill"):
        try:
            f.add_rule(kill, name)
        except Exception:  # a syscall this kernel/arch lacks
            pass
    # clone is allowed only for threads; clone3 cannot be filtered by flags, so make glibc fall back.
    clone_thread = 0x00010000
    f.add_rule(kill, "clone", sc.Arg(0, sc.MASKED_EQ, clone_thread, 0))
    f.add_rule(sc.ERRNO(38), "clone3")
    for family in (2, 10, 16, 17):  # AF_INET, AF_INET6, AF_NETLINK, AF_PACKET
        f.add_rule(kill, "socket", sc.Arg(0, sc.EQ, family))
    # Signals only to itself: not to the fork server, the namespace's init, a process group or
    # everyone (pid <= 0). Each server has one child at a time, so no other target exists.
    for name in ("kill", "tgkill", "rt_sigqueueinfo"):
        for pid in (server_pid, 1, 0):
            f.add_rule(kill, name, sc.Arg(0, sc.EQ, pid))
        f.add_rule(kill, name, sc.Arg(0, sc.MASKED_EQ, 0x80000000, 0x80000000))
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


class SeccompLoader:
    """Everything for loading the filter prepared before fork; the child makes two prctl calls."""

    def __init__(self, program):
        import ctypes

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._program = program  # keep the buffer alive
        self._prog = SockFprog(len(program) // 8, program)
        self._ref = ctypes.byref(self._prog)

    def load(self):
        prctl = self._libc.prctl
        if prctl(38, 1, 0, 0, 0) != 0 or prctl(22, 2, self._ref, 0, 0) != 0:  # NO_NEW_PRIVS, SET_SECCOMP
            raise OSError(self._ctypes.get_errno(), "seccomp filter could not be loaded")


def set_limits(limits):
    mem = int(limits["memory_mb"]) * 2**20
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    fsize = int(limits["file_mb"]) * 2**20
    for res, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, fsize),
                       (resource.RLIMIT_NOFILE, 64), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 64)):
        try:
            resource.setrlimit(res, (value, value) if res != resource.RLIMIT_CPU else (cpu, cpu + 1))
        except (ValueError, OSError):
            pass


def child_main(job, workdir, fds, program):
    stdin_r, stdout_w, stderr_w, harness_w, nonce_r = fds
    os.chdir(workdir)
    os.dup2(stdin_r, 0)
    os.dup2(stdout_w, 1)
    os.dup2(stderr_w, 2)
    os.dup2(harness_w, HARNESS_FD)
    os.dup2(nonce_r, NONCE_FD)
    os.closerange(NONCE_FD + 1, 1024)
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    os.environ["HOME"] = os.environ["TMPDIR"] = workdir  # bwrap --clearenv left only a few
    # The interpreter's own std streams wrap fds 0-2 and were never used by the server, so
    # they are empty and now point at this child's pipes.
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
    set_limits(job["limits"])
    program.load()
    import harness  # loaded before the candidate: it keeps its own references

    harness.run(job, HARNESS_FD, NONCE_FD)  # never returns


# ---------------------------------------------------------------- the server -----------------

def make_workdir(job_id):
    path = "/tmp/job-%s" % job_id
    os.mkdir(path, 0o700)
    return path


def remove_tree(path):
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def run_job(job, counter, program):
    limits = job["limits"]
    workdir = make_workdir(counter)
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    harness_r, harness_w = os.pipe()
    nonce_r, nonce_w = os.pipe()
    # The child must not inherit the tests or the nonce in its memory: they reach it only
    # through the nonce pipe, which the harness drains before the candidate runs.
    secret = [job.pop("nonce"), job.pop("tests", "")]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            secret.clear()
            for fd in (stdin_w, stdout_r, stderr_r, harness_r, nonce_w):
                os.close(fd)
            child_main(job, workdir, (stdin_r, stdout_w, stderr_w, harness_w, nonce_r), program)
        finally:
            os._exit(70)
    for fd in (stdin_r, stdout_w, stderr_w, harness_w, nonce_r):
        os.close(fd)
    # The tests and the nonce go through a pipe the candidate can only drain, never peek (tee/
    # splice are forbidden): reading them itself leaves the harness without its tests.
    payload = json.dumps({"nonce": secret[0], "tests": secret[1]}).encode()
    out = collect(pid, start, limits, stdin_w, job.get("stdin", "").encode(), nonce_w, payload,
                  stdout_r, stderr_r, harness_r)
    remove_tree(workdir)
    return out


def collect(pid, start, limits, stdin_w, stdin_data, nonce_w, payload, stdout_r, stderr_r, harness_r):
    cap = int(limits["output_bytes"])
    wall = float(limits["wall_s"])
    bufs = {stdout_r: bytearray(), stderr_r: bytearray(), harness_r: bytearray()}
    writers = {stdin_w: stdin_data, nonce_w: payload}
    for fd in writers:
        os.set_blocking(fd, False)
    killed = None
    open_fds = set(bufs)
    while open_fds or writers:
        left = wall - (time.monotonic() - start)
        if left <= 0:
            killed = "wall"
            break
        r, w, _ = select.select(list(open_fds), list(writers), [], min(left, 0.5))
        for fd in w:
            data = writers[fd]
            try:
                n = os.write(fd, data[:65536])
            except (BrokenPipeError, OSError):
                n = len(data)
            writers[fd] = data = data[n:]
            if not data:
                os.close(fd)
                del writers[fd]
        for fd in r:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
                continue
            bufs[fd] += chunk
            if len(bufs[stdout_r]) + len(bufs[stderr_r]) > cap or len(bufs[harness_r]) > cap:
                killed = "output"
                break
        if killed:
            break
        if not open_fds and not writers:
            break
    if killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for fd in list(writers):
        os.close(fd)
    _, status, usage = os.wait4(pid, 0)
    for fd in bufs:
        os.close(fd)
    return {
        "killed": killed,
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "stdout": bufs[stdout_r][:cap].decode("utf-8", "replace"),
        "stderr": bufs[stderr_r][-4000:].decode("utf-8", "replace"),
        "harness": bufs[harness_r][:cap].decode("utf-8", "replace"),
        "wall_ms": (time.monotonic() - start) * 1000,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
        "max_rss_kb": usage.ru_maxrss,
    }


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness  # noqa: F401  (import once here: every child inherits it, ~0 ms per job)
    import pyseccomp  # noqa: F401

    # A child that exits before reading its stdin must give EPIPE here, not kill the server.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    program = SeccompLoader(build_seccomp_program(os.getpid()))
    write_msg(1, {"ready": True})
    counter = 0
    while True:
        job = read_msg(0)
        if job is None:
            return
        counter += 1
        try:
            result = run_job(job, counter, program)
        except Exception as exc:  # report, keep serving
            result = {"error": "%s: %s" % (type(exc).__name__, exc)}
        result["id"] = job.get("id")
        write_msg(1, result)


if __name__ == "__main__":
    main()
