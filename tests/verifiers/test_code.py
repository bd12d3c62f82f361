"""The code verifier and its sandbox on a table of real cases, reward hacks and attacks.

Isolation is on in these tests exactly as in production: if bubblewrap, seccomp or the
unprivileged uid cannot work here, the pool fails to start and these tests fail loudly."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from schemas import Problem
from verifiers.code import CodeVerifier, extract_code


def problem(tests) -> Problem:
    return Problem(domain="code", prompt="p", reference="", source="t", tests=json.dumps(tests))


ADD_TESTS = {"type": "assert", "code": "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(10, 5) == 15"}
SUM_IO = {"type": "io", "cases": [{"input": "1 2 3\n", "output": "6\n"}, {"input": "5\n", "output": "5"}]}
ADD = "def add(a, b):\n    return a + b\n"
SUM = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n"

# (name, candidate program, tests, expected passed, expected reason)
CASES = [
    # --- benign programs pass ---
    ("assert-correct", ADD, ADD_TESTS, True, "correct"),
    ("io-correct", SUM, SUM_IO, True, "correct"),
    ("io-trailing-whitespace", "print('6   ')\nprint()\nprint()", {"type": "io", "cases": [{"input": "", "output": "6"}]},
     True, "correct"),
    ("reads-stdin-and-writes-scratch-file",
     "import sys\ndata = sys.stdin.read()\nopen('scratch.txt', 'w').write(data)\nprint(open('scratch.txt').read().upper(), end='')",
     {"type": "io", "cases": [{"input": "abc\n", "output": "ABC\n"}]}, True, "correct"),
    ("stdlib-and-threads",
     "import threading, collections, itertools, json, math, re, heapq, functools\n"
     "out = []\nt = threading.Thread(target=lambda: out.append(math.factorial(5)))\nt.start(); t.join()\n"
     "def f(): return out[0]", {"type": "assert", "code": "assert f() == 120"}, True, "correct"),
    ("main-guard-demo-skipped-for-asserts", ADD + "if __name__ == '__main__':\n    print(add(int(input()), 1))",
     ADD_TESTS, True, "correct"),
    ("main-guard-runs-for-io", "def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()",
     {"type": "io", "cases": [{"input": "21", "output": "42"}]}, True, "correct"),
    ("sys-exit-0-after-output-in-io", "print(6)\nimport sys\nsys.exit(0)", {"type": "io", "cases": [{"input": "", "output": "6"}]},
     True, "correct"),
    ("custom-class-compared-with-itself",
     "class P:\n    def __init__(s, x): s.x = x\n    def __eq__(s, o): return isinstance(o, P) and s.x == o.x\n",
     {"type": "assert", "code": "assert P(1) == P(1)\nassert not (P(1) == P(2))"}, True, "correct"),
    # --- plain failures ---
    ("wrong-answer", "def add(a, b):\n    return a - b\n", ADD_TESTS, False, "wrong_answer"),
    ("io-wrong-output", "print(7)", SUM_IO, False, "wrong_answer"),
    ("runtime-error", "def add(a, b):\n    return a + c\n", ADD_TESTS, False, "runtime_error"),
    ("syntax-error", "def add(a, b)\n    return a + b\n", ADD_TESTS, False, "syntax_error"),
    ("io-nonzero-exit", "print(6)\nraise SystemExit(3)", {"type": "io", "cases": [{"input": "", "output": "6"}]},
     False, "runtime_error"),
    # --- reward hacks fail ---
    ("sys-exit-before-tests", ADD + "import sys\nsys.exit(0)", ADD_TESTS, False, "wrong_answer"),
    ("os-exit-before-tests", ADD + "import os\nos._exit(0)", ADD_TESTS, False, "wrong_answer"),
    ("always-equal-object",
     "class A:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\ndef add(a, b): return A()",
     ADD_TESTS, False, "wrong_answer"),
    ("int-subclass-equal", "class I(int):\n    def __eq__(s, o): return True\ndef add(a, b): return I(0)",
     ADD_TESTS, False, "wrong_answer"),
    ("truthy-object", "class T:\n    def __bool__(self): return True\ndef ok(): return T()",
     {"type": "assert", "code": "assert ok()"}, False, "wrong_answer"),
    ("patched-builtins",
     "import builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b): return 99",
     {"type": "assert", "code": "assert abs(add(1, 2) - 3) == 0"}, False, "wrong_answer"),
    ("patched-excepthook-and-trace",
     "import sys\nsys.excepthook = lambda *a: None\nsys.settrace(lambda *a: None)\ndef add(a, b): return 0",
     ADD_TESTS, False, "wrong_answer"),
    ("atexit-fake-success",
     "import atexit, os\natexit.register(lambda: print('ALL TESTS PASSED'))\ndef add(a, b): return 0",
     ADD_TESTS, False, "wrong_answer"),
    ("prints-pass-and-exits", "print('OK: 3/3 tests passed')\nimport os\nos._exit(0)", ADD_TESTS, False, "wrong_answer"),
    ("raises-systemexit-inside-function", "def add(a, b):\n    raise SystemExit(0)", ADD_TESTS, False, "runtime_error"),
    ("catches-baseexception-in-function",
     "def add(a, b):\n    try:\n        raise KeyboardInterrupt\n    except BaseException:\n        return None",
     ADD_TESTS, False, "wrong_answer"),
    ("forges-result-pipe",
     "import os\nfor fd in range(3, 20):\n    try: os.write(fd, b'x END asserts\\n')\n    except OSError: pass\nos._exit(0)",
     ADD_TESTS, False, "runtime_error"),
    ("reads-tests-pipe", "import os\ntry:\n    os.read(4, 100000)\nexcept OSError:\n    pass\n" + ADD, ADD_TESTS, True, "correct"),
    ("reads-proc", "print(open('/proc/self/cmdline').read())", {"type": "io", "cases": [{"input": "", "output": "x"}]},
     False, "runtime_error"),
    ("subprocess-fake-output", "import subprocess\nsubprocess.run(['echo', '6'])", {"type": "io", "cases": [{"input": "", "output": "6"}]},
     False, "sandbox_violation"),
    ("ignores-signals-and-spins",
     "import signal\nfor s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT, signal.SIGALRM):\n    signal.signal(s, signal.SIG_IGN)\nwhile True: pass",
     ADD_TESTS, False, "timeout"),
    # the parent is the zygote, pid 1 of the role's pid namespace: seccomp refuses kill(1)
    ("kills-the-fork-server", "import os\nos.kill(os.getppid(), 9)", ADD_TESTS, False, "sandbox_violation"),
    # --- isolation: each attack is a verdict, not a dead host ---
    ("fork-bomb", "import os\nwhile True:\n    os.fork()", ADD_TESTS, False, "sandbox_violation"),
    ("memory-bomb", "x = bytearray(8 * 1024 ** 3)", ADD_TESTS, False, "memory"),
    ("memory-growth", "a = []\nwhile True:\n    a.append(bytes(10 ** 8))", ADD_TESTS, False, "memory"),
    ("infinite-loop", "while True:\n    pass", ADD_TESTS, False, "timeout"),
    ("sleeping-forever", "import time\ntime.sleep(3600)", ADD_TESTS, False, "timeout"),
    ("gigabyte-of-output", "import sys\nchunk = 'x' * 65536\nfor _ in range(16384):\n    sys.stdout.write(chunk)",
     SUM_IO, False, "output_limit"),
    ("huge-file", "f = open('big', 'wb')\nfor _ in range(1024):\n    f.write(b'x' * 2 ** 20)", ADD_TESTS, False,
     "output_limit"),
    ("ctypes-segfault", "import ctypes\nctypes.string_at(0)", ADD_TESTS, False, "crash"),
    ("write-outside-tmp", "open('/usr/pwned', 'w').write('x')", ADD_TESTS, False, "runtime_error"),
    ("no-code-block", "I think the answer is to add the numbers.", ADD_TESTS, False, "no_answer"),
]


@pytest.fixture(scope="module")
def verifier():
    v = CodeVerifier(timeout_s=2.0, workers=2)
    yield v
    v.close()


@pytest.mark.parametrize("name,code,tests,expected,reason", CASES, ids=[c[0] for c in CASES])
def test_code_cases(verifier, name, code, tests, expected, reason):
    text = code if name == "no-code-block" else f"Here is my solution.\n```python\n{code}\n```\n"
    out = verifier.verify(problem(tests), text)
    assert (out.passed, out.reason) == (expected, reason), out.details


def test_batch_keeps_order_and_scores_fractions(verifier):
    half = problem({"type": "io", "cases": [{"input": "1", "output": "1"}, {"input": "2", "output": "3"}]})
    items = [(problem(ADD_TESTS), f"```python\n{ADD}```"), (half, "```python\nprint(input())\n```"),
             (problem(ADD_TESTS), "```python\nwhile True: pass\n```")] * 3
    outs = verifier.verify_batch(items)
    assert [(o.passed, o.reason) for o in outs] == [(True, "correct"), (False, "wrong_answer"), (False, "timeout")] * 3
    assert outs[1].score == 0.5 and "1/2 passed" in outs[1].details


def test_network_is_unreachable_from_the_sandbox(verifier):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    got = []
    threading.Thread(target=lambda: got.append(_accept(listener)), daemon=True).start()
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'leak')"
    out = verifier.verify(problem({"type": "io", "cases": [{"input": "", "output": ""}]}), f"```python\n{code}\n```")
    listener.close()
    assert (out.passed, out.reason) == (False, "sandbox_violation")
    assert got in ([], [None])


def _accept(listener):
    try:
        return listener.accept()
    except OSError:
        return None


def test_host_survives_and_files_outside_are_untouched(verifier, tmp_path):
    marker = tmp_path / "host-file"
    marker.write_text("safe")
    code = f"import os\ntry:\n    open({str(marker)!r}, 'w').write('pwned')\nexcept OSError:\n    pass\n" + ADD
    assert verifier.verify(problem(ADD_TESTS), f"```python\n{code}```").passed  # the path does not exist inside
    assert marker.read_text() == "safe"
    assert not Path("/usr/pwned").exists()
    fork_bomb = "```python\nimport os\nwhile True: os.fork()\n```"
    verifier.verify_batch([(problem(ADD_TESTS), f"```python\n{ADD}```")] * 4)  # every worker and test process up
    before = _sandbox_pids()
    sleeper = "```python\nimport threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\ntime.sleep(60)\n```"
    verifier.verify_batch([(problem(ADD_TESTS), fork_bomb)] * 4 + [(problem(SUM_IO), sleeper)] * 2)
    time.sleep(0.2)
    assert not _sandbox_pids() - before, "a process of the fork bombs outlived its execution"
    assert verifier.verify(problem(ADD_TESTS), f"```python\n{ADD}```").passed


def test_runs_as_unprivileged_uid_with_readonly_fs(verifier):
    code = ("import os\nprint(os.getuid())\ntry:\n    open('/usr/x', 'w')\nexcept OSError as e:\n    print(type(e).__name__)\n"
            "print(os.path.exists('/proc/1'), os.path.exists('/work'), os.path.exists('/root/.bashrc'))")
    expected = "65534\nOSError\nFalse False False\n"
    out = verifier.verify(problem({"type": "io", "cases": [{"input": "", "output": expected}]}), f"```python\n{code}\n```")
    assert out.passed, out.details


@pytest.mark.parametrize("tests,message", [
    ("not json", "tests"), ({"type": "unit"}, "type 'assert' or 'io'"), ({"type": "io", "cases": []}, "non-empty"),
    ({"type": "assert", "code": ""}, "non-empty 'code'"), ([], "no test cases"),
])
def test_malformed_tests_are_bad_input(verifier, tests, message):
    p = Problem(domain="code", prompt="p", reference="", source="t",
                tests=tests if isinstance(tests, str) else json.dumps(tests))
    out = verifier.verify(p, f"```python\n{ADD}```")
    assert (out.passed, out.reason) == (False, "bad_input") and message in out.details


@pytest.mark.parametrize("text,expected", [
    ("```python\nx = 1\n```\nthen\n```python\nx = 2\n```", "x = 2\n"),
    ("```py\nprint(1)\n```", "print(1)\n"),
    ("```\nprint(2)\n```", "print(2)\n"),
    ("```cpp\nint main(){}\n```", None),
    ("def f():\n    return 1\n", "def f():\n    return 1\n"),
    ("The answer is to loop.", None),
])
def test_extract_code(text, expected):
    assert extract_code(text) == expected


def test_sandbox_python_is_not_the_host_venv():
    assert os.access("/usr/bin/python3", os.X_OK), "setup.sh installs python3-minimal for the sandbox"


@pytest.mark.parametrize("allotted, expected", [("1", 1), ("3", 3), ("0.5", 1), ("", os.cpu_count() or 1)])
def test_sandbox_pool_sizes_to_the_cpus_an_executor_allots(monkeypatch, allotted, expected):
    from verifiers.sandbox.pool import default_workers

    monkeypatch.setenv("FACTORY_VERIFY_CPUS", allotted)
    assert default_workers() == expected


def _sandbox_pids() -> set[str]:
    out = subprocess.run(["ps", "-u", "65534", "-o", "pid="], capture_output=True, text=True).stdout
    return set(out.split())


def test_sandbox_dies_with_its_host_process():
    """kill -9 of the verifying process leaves no sandbox process behind."""
    import signal
    import sys
    import time

    before = _sandbox_pids()
    script = ("import json, sys, time\nfrom schemas import Problem\nfrom verifiers.code import CodeVerifier\n"
              "v = CodeVerifier(timeout_s=2.0, workers=2)\n"
              "p = Problem(domain='code', prompt='p', reference='', source='t', tests=json.dumps({'type': 'assert', 'code': 'assert f() == 1'}))\n"
              "print(v.verify_batch([(p, '```python\\ndef f(): return 1\\n```')] * 2)[0].passed, flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.readline().strip() == "True"
    during = _sandbox_pids() - before
    assert during, "the sandbox processes were not found while the host lived"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sandbox_pids() & during:
        time.sleep(0.1)
    assert not _sandbox_pids() & during


@pytest.mark.parametrize("code", [
    "import os\nos.closerange(0, 100)\nimport time\ntime.sleep(60)",
    "import os, time\nfor fd in range(3, 100):\n    try: os.dup2(0, fd)\n    except OSError: pass\ntime.sleep(60)",
    "import threading, time\nthreading.Thread(target=lambda: time.sleep(60)).start()\nimport os\nos.close(1); os.close(2)\ntime.sleep(60)",
])
def test_a_candidate_cannot_stall_the_verifier(verifier, code):
    import time

    start = time.monotonic()
    out = verifier.verify(problem(ADD_TESTS), f"```python\n{code}\n```")
    assert not out.passed and time.monotonic() - start < 2.0 + 6.0, (out, time.monotonic() - start)


@pytest.mark.parametrize("bad_tests,reason", [
    ("add(1, 2)\nimport os\nos._exit(0)", "error"),           # the test process dies mid-job
    ("add(1, 2)\nwhile True:\n    pass", "timeout"),           # the test process is stuck in a job
])
def test_the_test_process_is_replaced_after_a_job_that_broke_it(bad_tests, reason):
    v = CodeVerifier(timeout_s=1.0, workers=1)
    try:
        outs = v.verify_batch([(problem({"type": "assert", "code": bad_tests}), f"```python\n{ADD}```"),
                               (problem(ADD_TESTS), f"```python\n{ADD}```")] + [(problem(ADD_TESTS), f"```python\n{ADD}```")] * 2)
    finally:
        v.close()
    assert (outs[0].passed, outs[0].reason) == (False, reason), outs[0]
    assert all(o.passed for o in outs[1:]), outs[1:]
