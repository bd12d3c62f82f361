"""The fork server that runs inside bubblewrap (stdlib + pyseccomp; started with -I -S).

Processes, per worker:

  server ── reads jobs from the host on fd 0, answers on fd 1, keeps the job's wall clock
    ├─ candidate zygote ── pid 1 of a pid namespace of its own; forked before any job was
    │    │                 read, so its memory never held a test or another candidate
    │    └─ B ── one per execution: fresh mount/ipc namespaces with new size-capped tmpfs
    │            /tmp and /dev/shm, reads its own job data from a pipe, then rlimits, no
    │            capabilities, the seccomp allowlist, and the candidate program (io: as a
    │            script; assert: as a module that serves calls)
    └─ tests zygote ── the same, in another pid namespace
         └─ B ── the test process, long-lived (TestProcess): each job hands it that job's
                 pipes; it runs the tests against proxies of the candidate's names

The two Bs of an assert execution share only two pipes (requests, answers). The verdict data
leaves through the tests' report pipe (or, for io, the program's stdout and exit status),
which the candidate never holds; a zygote reports its B's exit status on a pipe of the
server's. Every clock is here and on the host; B is killed through a pidfd at the end of
its job, so nothing outlives a job.
"""

import ctypes
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x20000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAP_AMBIENT = 1, 38, 22, 47
MAX_JOB_BYTES = 64 << 20
REPORT_CAP = 64 << 10
TESTS_CONTROL_FD = 6
MAX_TEST_JOBS = 500  # the test process is recycled after this many jobs
DISABLED = tuple(filter(None, os.environ.get("FACTORY_SANDBOX_DISABLE", "").split(",")))
DEBUG = bool(os.environ.get("FACTORY_SANDBOX_DEBUG"))  # keep stderr open where a role has none

_libc = ctypes.CDLL(None, use_errno=True)
_PROGRAM = [None]


# ---------------------------------------------------------------- framing -------------------

def _read_exact(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_msg(fd):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    size = struct.unpack("<I", head)[0]
    if size > MAX_JOB_BYTES:
        return None
    body = _read_exact(fd, size)
    return None if body is None else json.loads(body.decode())


def write_msg(fd, obj):
    data = json.dumps(obj).encode()
    data = struct.pack("<I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


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
    fresh_filesystem(spec["tmp_mb"])
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


def fresh_filesystem(tmp_mb):
    """B's own mount and ipc namespaces: new size-capped tmpfs on /tmp and /dev/shm, gone
    when B exits. The rest of the tree is the read-only view bwrap built."""
    if "namespaces" in DISABLED:
        return
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    for path, size in ((b"/tmp", tmp_mb), (b"/dev/shm", 8)):
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
            if fd is sock:
                try:
                    msg, fds, _, _ = socket.recv_fds(sock, 4096, 16)
                except OSError:
                    os._exit(0)
                if not msg:
                    os._exit(0)
                spec = json.loads(msg.decode())
                pid = _start_role(spec, fds, program)
                pidfd = os.pidfd_open(pid)
                running[pidfd] = (pid, fds[spec["status"]])
                socket.send_fds(sock, [b"%d" % pid], [pidfd])
                continue
            pid, status_fd = running.pop(fd)
            _, status, usage = os.wait4(pid, 0)
            try:
                os.write(status_fd, _status(status, usage))
            except OSError:
                pass
            os.close(status_fd)
            os.close(fd)


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


# ---------------------------------------------------------------- the server ----------------

class Role:
    """The server's end of one role: the pipes it reads and writes and the status it awaits."""

    def __init__(self, name, zsock, targets, tmp_mb, payload, shared=()):
        self.name, self.ends, child = name, {}, []
        for target, direction in targets:  # "in": the role reads it
            r, w = os.pipe()
            self.ends[target] = w if direction == "in" else r
            child.append(r if direction == "in" else w)
        child += [fd for _, fd in shared]  # pipes between the two roles; the server keeps none
        job_r, job_w = os.pipe()
        status_r, status_w = os.pipe()
        spec = {"role": name, "targets": [t for t, _ in targets] + [t for t, _ in shared],
                "job": len(child), "status": len(child) + 1, "tmp_mb": tmp_mb}
        if "zygote" in DISABLED:
            self.relay, self.pidfd = os.fork(), None
            if self.relay == 0:
                supervise_unsafe(spec, child + [job_r, status_w], _PROGRAM[0])
        else:
            socket.send_fds(zsock, [json.dumps(spec).encode()], child + [job_r, status_w])
            _, (self.pidfd,), _, _ = socket.recv_fds(zsock, 64, 1)
            self.relay = None
        for fd in child[: len(targets)] + [job_r, status_w]:
            os.close(fd)
        self.job_w, self.status_r = job_w, status_r
        self.payload = json.dumps(payload).encode()
        self.status, self.status_buf = None, b""

    def kill(self):
        """SIGKILL through the pidfd: it names this B and no process that reused its pid."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.close(self.pidfd)
            self.pidfd = None
        elif self.relay:
            try:
                os.kill(self.relay, signal.SIGKILL)
                os.waitpid(self.relay, 0)
            except ChildProcessError:
                pass
            self.relay = None

    def on_status(self, chunk):
        self.status_buf += chunk

    def finish_status(self):
        try:
            self.status = json.loads(self.status_buf.decode()) if self.status_buf else {"error": "no status"}
        except ValueError:
            self.status = {"error": "bad status"}


class TestProcess:
    """The worker's test process. It lives across jobs (starting a process is half the cost of
    an execution here); each job hands it fresh pipes to that job's candidate and a report
    pipe. It is killed and replaced after a job that did not end in a final report, and every
    MAX_TEST_JOBS jobs. The candidate never reaches it: another pid namespace, pipes only."""

    def __init__(self, zsock):
        self.zsock, self.role, self.ctl, self.jobs = zsock, None, None, 0

    def ensure(self, limits):
        if self.role is not None and self.jobs < MAX_TEST_JOBS \
                and not select.select([self.role.status_r], [], [], 0)[0]:  # readable: it ended
            return
        self.stop()
        ctl, ctl_child = socket.socketpair()
        try:
            self.role = Role("tests", self.zsock, [], 16, {"limits": limits}, shared=[(TESTS_CONTROL_FD, ctl_child.fileno())])
        finally:
            ctl_child.close()
        os.write(self.role.job_w, self.role.payload)
        os.close(self.role.job_w)
        self.ctl, self.jobs = ctl, 0

    def submit(self, req_w, ans_r):
        """Hand over one job's pipes; returns the server's ends (report, tests payload)."""
        report_r, report_w = os.pipe()
        job_r, job_w = os.pipe()
        try:
            socket.send_fds(self.ctl, [b"job"], [req_w, ans_r, report_w, job_r])
        finally:
            os.close(report_w)
            os.close(job_r)
        self.jobs += 1
        return report_r, job_w

    def stop(self):
        if self.role is not None:
            self.role.kill()
            os.close(self.role.status_r)
            self.ctl.close()
            self.role, self.ctl = None, None


def _stdin_file(data):
    """The program's stdin is a file, as on a judge: `os.fstat(0).st_size` and one `os.read`
    see all of it (a pipe gives neither)."""
    fd = os.memfd_create("stdin")
    payload = data.encode()
    while payload:
        payload = payload[os.write(fd, payload):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run_job(job, zygotes, tests):
    limits = job["limits"]
    start = time.monotonic()
    candidate = None
    try:
        stdin = _stdin_file(job.get("stdin", "") if job["mode"] == "io" else "")
        if job["mode"] == "io":
            try:
                candidate = Role("candidate", zygotes["candidate"], [(1, "out"), (2, "out")], int(limits["tmp_mb"]),
                                 {"mode": "io", "code": job["code"], "limits": limits}, shared=[(0, stdin)])
            finally:
                os.close(stdin)
            return collect(job, candidate, None, start)
        req_r, req_w = os.pipe()  # tests → candidate
        ans_r, ans_w = os.pipe()  # candidate → tests
        try:
            candidate = Role("candidate", zygotes["candidate"], [(1, "out"), (2, "out")], int(limits["tmp_mb"]),
                             {"mode": "assert", "code": job["code"], "limits": limits},
                             shared=[(0, stdin), (3, req_r), (4, ans_w)])
            tests.ensure(limits)
            try:
                report_r, tests_job_w = tests.submit(req_w, ans_r)
            except OSError:  # it died between jobs: one fresh start
                tests.stop()
                tests.ensure(limits)
                report_r, tests_job_w = tests.submit(req_w, ans_r)
        finally:
            for fd in (req_r, req_w, ans_r, ans_w, stdin):
                os.close(fd)
        out = collect(job, candidate, (tests, report_r, tests_job_w), start)
        if not _final_report(out["tests"]["report"]) or '"retire": true' in out["tests"]["report"]:
            tests.stop()  # stuck in a job, died, or retiring: the next job gets a fresh one
        return out
    finally:
        if candidate is not None:
            candidate.kill()


def collect(job, candidate, tests, start):
    """Feed stdin and job data, read outputs, the report and statuses, under one wall clock.
    `tests` is (TestProcess, report fd, tests payload fd) for assert jobs."""
    limits = job["limits"]
    wall, cap = float(limits["wall_s"]), int(limits["output_bytes"])
    writers = {candidate.job_w: candidate.payload}
    readers = {candidate.status_r: "status", candidate.ends[1]: "stdout", candidate.ends[2]: "stderr"}
    bufs = {"stdout": bytearray(), "stderr": bytearray(), "report": bytearray()}
    test_process = None
    if tests:
        test_process, report_r, tests_job_w = tests
        writers[tests_job_w] = json.dumps({"tests": job["tests"]}).encode()
        readers[report_r] = "report"
        readers[test_process.role.status_r] = "tests_status"
    for fd in writers:
        os.set_blocking(fd, False)
    killed, grace_until = None, None
    while True:
        if tests is None and candidate.status is not None and "stdout" not in readers.values() \
                and "stderr" not in readers.values():
            break  # io: the program ended and its output is in
        if tests and "report" not in readers.values():
            if grace_until is None and _final_report(bufs["report"]):
                break  # decided: nothing else can change the verdict
            # The tests report the candidate gone (or the test process died): wait briefly for
            # the candidate's status, which names how it ended.
            grace_until = grace_until or time.monotonic() + 1.0
            if candidate.status is not None or time.monotonic() >= grace_until:
                break
        left = wall - (time.monotonic() - start)
        if left <= 0:
            killed = "wall"
            break
        if grace_until is not None:
            left = min(left, grace_until - time.monotonic())
        r, w, _ = select.select(list(readers) + [0], list(writers), [], max(0.0, min(left, 0.5)))
        if 0 in r:  # the host is gone (it never writes during a job): leave nothing behind
            candidate.kill()
            if test_process:
                test_process.stop()
            os._exit(0)
        for fd in w:
            data = writers[fd]
            try:
                n = os.write(fd, data[:65536]) if data else 0
            except OSError:
                n = len(data)
            writers[fd] = data = data[n:]
            if not data:
                os.close(fd)
                del writers[fd]
        for fd in r:
            kind = readers[fd]
            chunk = os.read(fd, 65536)
            if kind == "tests_status":  # the test process ended (its report pipe closes too)
                del readers[fd]
                if not chunk:
                    test_process.role.finish_status()
                else:
                    test_process.role.on_status(chunk)
                    readers[fd] = kind
                continue
            if not chunk:
                del readers[fd]
                if kind == "status":
                    candidate.finish_status()
                os.close(fd)
                continue
            if kind == "status":
                candidate.on_status(chunk)
                continue
            bufs[kind] += chunk
            if kind == "stderr" and len(bufs["stderr"]) > 1 << 16:
                del bufs["stderr"][:-8192]  # only its tail is kept, and it does not count
            if len(bufs["stdout"]) > cap:
                killed = "output"
            elif len(bufs["report"]) > REPORT_CAP:
                killed = "report"
        if killed:
            break
    for fd, kind in list(readers.items()):
        if kind != "tests_status":
            os.close(fd)
    for fd in writers:
        os.close(fd)
    out = {"killed": killed, "wall_ms": (time.monotonic() - start) * 1000,
           "candidate": {"status": candidate.status, "stdout": bufs["stdout"][:cap].decode("utf-8", "replace"),
                         "stderr": bufs["stderr"][-4000:].decode("utf-8", "replace")}}
    if tests:
        out["tests"] = {"status": test_process.role.status if test_process.role else None,
                        "report": bufs["report"].decode("utf-8", "replace")}
    return out


def _final_report(raw):
    try:
        report = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except ValueError:
        return False
    return isinstance(report, dict) and report.get("status") not in (None, "gone")


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import candidate_side  # noqa: F401  (imported once: every role inherits it)
    import policy
    import test_side  # noqa: F401
    import wire  # noqa: F401

    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    program = _PROGRAM[0] = SeccompLoader(policy.build(DISABLED))
    gc.collect()
    gc.freeze()  # every fork shares these pages: a collection in a child would copy them all
    zygotes = {role: start_zygote(program) for role in ("candidate", "tests")}
    tests = TestProcess(zygotes["tests"])
    write_msg(1, {"ready": True})
    while True:
        job = read_msg(0)
        if job is None:
            return
        try:
            result = run_job(job, zygotes, tests)
        except OSError as exc:  # a zygote is gone: answer, then exit so the host starts a new worker
            result = {"error": "sandbox worker broken (%s: %s); restarting it" % (type(exc).__name__, exc)}
            result["id"] = job.get("id")
            write_msg(1, result)
            return
        except Exception as exc:  # report, keep serving
            result = {"error": "%s: %s" % (type(exc).__name__, exc)}
        result["id"] = job.get("id")
        write_msg(1, result)


if __name__ == "__main__":
    main()
