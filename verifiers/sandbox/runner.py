"""The fork server that runs inside bubblewrap (stdlib + pyseccomp; started with -I -S).

Processes, per worker:

  server ── reads jobs from the host on fd 0, answers on fd 1, keeps the job's wall clock
    ├─ candidate zygote ── pid 1 of a pid namespace of its own; forked before any job was
    │    │                 read, so its memory never held a test or another candidate
    │    └─ B ── one per execution, on new size-capped tmpfs /tmp and /dev/shm that the
    │            zygote mounts for it; reads its own job data from a pipe, then rlimits, no
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

import gc
import json
import os
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
from zygote import (DISABLED, MAX_JOB_BYTES, TESTS_CONTROL_FD, SeccompLoader, start_zygote,  # noqa: E402
                    supervise_unsafe)

REPORT_CAP = 64 << 10
MAX_TEST_JOBS = 500  # the test process is recycled after this many jobs
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
        report = _parse_report(out["tests"]["report"])
        if not _is_final(report) or report.get("retire"):
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
            if grace_until is None and _is_final(_parse_report(bufs["report"])):
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


def _parse_report(raw):
    """The test process's report as a dict ({} when missing or malformed)."""
    try:
        report = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def _is_final(report):
    """Decided: nothing the candidate does next can change it."""
    return report.get("status") not in (None, "gone")


def main():
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
