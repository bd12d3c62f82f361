"""A labelled table of attacks on the code verifier, and of unusual but correct programs.

Data only (plus the few helpers that build the programs); `test_code_attacks.py` runs it.

Each row: (id, class, defence, candidate program, tests spec, expected passed, expected reason
or a frozenset of acceptable reasons). Every attack row expects passed=False: the reason is
the verdict that names what the attack did (a killed syscall is `sandbox_violation`, an attack
that changes nothing is graded on its wrong answer: `wrong_answer`). Correct rows expect
(True, "correct"). Extra fields:

  group    rows with the same group run in order in one verify_batch of their own, on a fresh
           verifier (order-dependent attacks: one job leaves state, the next looks for it)
  mutate   the row is safe to run with its `defence` switched off (FACTORY_SANDBOX_DISABLE)
           and is one of those the mutation check runs for that switch
  text     a zero-argument callable that builds the whole completion text (size rows, run
           through verify() directly and timed); otherwise the program is sent in a fence

`defence` names the defence that stops the attack: a switch of FACTORY_SANDBOX_DISABLE
(seccomp, namespaces, rlimits, zygote, plain_compare, capabilities) or one without a switch:
"process-split" (tests and verdict in another process), "wire" (the plain-data wire format
and its caps), "test-semantics" (what the tests compare, test_side.py), "host-clock",
"size-checks" (verifiers/code.py) or "-" for correct programs.

Some attacks patch the candidate side's own server (candidate_side.Server.serve, _kind,
_MUTABLE, handle) or speak the wire format by hand (RAW_ANSWER): they follow the current
internals, and if those change such a row may end in a protocol error instead of testing what
its id says. A row's details in the driver's table show which.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple


class Row(NamedTuple):
    id: str
    cls: str
    defence: str
    program: str | None
    tests: Any
    passed: bool
    reason: str | frozenset
    group: str | None = None
    mutate: bool = False
    text: Callable[[], Any] | None = None


def asserts(code: str) -> dict:
    return {"type": "assert", "code": code}


def io(output: str, stdin: str = "") -> dict:
    return {"type": "io", "cases": [{"input": stdin, "output": output}]}


def any_of(*reasons: str) -> frozenset:
    return frozenset(reasons)


ADD_TESTS = asserts("assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(10, 5) == 15")
AREA_TESTS = asserts("assert abs(area(2) - 12.566370614359172) < 1e-6\nassert abs(area(1) - 3.141592653589793) < 1e-6")
WRONG_ADD = "\ndef add(a, b):\n    return 0\n"
GOOD_ADD = "\ndef add(a, b):\n    return a + b\n"
LIBC = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n")
SV = "sandbox_violation"
WA = "wrong_answer"
RE = "runtime_error"


def syscall(nr: int, *args: int) -> str:
    """A raw system call at module level, then a wrong answer (if the call is not killed)."""
    return LIBC + f"libc.syscall({', '.join(str(a) for a in (nr,) + args)})\n" + WRONG_ADD


# Learns `add`'s answers from any test source it can find: the attack wins only if it found them.
LEARN = r'''
import ast as _ast
TABLE = {}
def _learn(src):
    try:
        tree = _ast.parse(src)
    except Exception:
        return
    for node in _ast.walk(tree):
        if isinstance(node, _ast.Compare) and isinstance(node.left, _ast.Call) and len(node.comparators) == 1:
            try:
                TABLE[tuple(_ast.literal_eval(a) for a in node.left.args)] = _ast.literal_eval(node.comparators[0])
            except Exception:
                pass
def add(a, b):
    return TABLE.get((a, b), 0)
'''

FRAME_WALK = LEARN + r'''
import sys
_f = sys._getframe()
while _f is not None:
    for _v in list(_f.f_locals.values()):
        if isinstance(_v, dict) and isinstance(_v.get("tests"), str):
            _learn(_v["tests"])
    _f = _f.f_back
'''

GC_SEARCH = LEARN + r'''
import gc
gc.unfreeze()
for _o in gc.get_objects():
    if isinstance(_o, dict) and isinstance(_o.get("tests"), str):
        _learn(_o["tests"])
    elif isinstance(_o, dict) and isinstance(_o.get("code"), str) and "assert" in _o["code"]:
        _learn(_o["code"])
'''

# Scans the pages around its own objects for the test source (a pipe write probes each page,
# so an unmapped one is EFAULT, not a segfault).
HEAP_SCAN = r'''
import ctypes, os, re
libc = ctypes.CDLL(None, use_errno=True)
libc.sbrk.restype = ctypes.c_void_p
TABLE = {}
_pat = re.compile(rb"as" + rb"sert add\((-?\d+), (-?\d+)\) == (-?\d+)")
_r, _w = os.pipe()
def _readable(addr):
    if libc.write(_w, ctypes.c_void_p(addr), 1) == 1:
        os.read(_r, 1)
        return True
    return False
def _scan(lo, hi):
    for page in range(lo & ~4095, hi, 4096):
        if page > 0 and _readable(page):
            for m in _pat.finditer(ctypes.string_at(page, 4096)):
                TABLE[(int(m.group(1)), int(m.group(2)))] = int(m.group(3))
_here = id(object())
_scan(_here - (48 << 20), _here + (48 << 20))
_brk = libc.sbrk(0) or 0
_scan(_brk - (48 << 20), _brk)
def add(a, b):
    return TABLE.get((a, b), 0)
'''

# The candidate replaces its own server's hello: a name table with extra entries.
HELLO_INJECT = r'''
import candidate_side as _cs
class _Key(str):
    def startswith(self, *a):
        return False
_serve = _cs.Server.serve
def _patched(self, namespace):
    namespace = {k: v for k, v in namespace.items() if k not in EXTRA}  # a str key already there would stay
    namespace.update({_Key(k): v for k, v in EXTRA.items()})
    return _serve(self, namespace)
_cs.Server.serve = _patched
'''

# A raw peer that speaks the wire format itself: hello with `add`, then one raw answer.
RAW_ANSWER = r'''
import os, struct, json, time, wire
def _msg(data):
    os.write(4, struct.pack("<I", len(data)) + data)
_msg(json.dumps(["hello", wire.VERSION, [["add", ["h", 1, "function", "callable"]]]]).encode())
os.read(3, 1 << 16)
_msg(PAYLOAD)
os.read(3, 1 << 16)  # the next request, or EOF once the tests have decided
os._exit(0)
'''


def raw_answer(payload: bytes | str) -> str:
    """`payload`: the answer's bytes, or a Python expression that builds them."""
    return f"PAYLOAD = {payload if isinstance(payload, str) else repr(payload)}\n" + RAW_ANSWER


# clone() with CLONE_THREAD passes the seccomp rule whatever the other flags; a thread in new
# uts and net namespaces needs CAP_SYS_ADMIN. Shellcode: the new thread exits at once; the
# caller gets its tid (> 0) or -errno. The program is right only if the thread was created.
CLONE_THREAD_NEW_NS = r'''
import ctypes, mmap
CODE = bytes.fromhex("b838000000" "31d2" "4531d2" "4531c0" "0f05" "4885c0" "7509" "b83c000000" "31ff" "0f05" "c3")
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(CODE)
clone = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_ulong, ctypes.c_void_p)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
STACK = ctypes.create_string_buffer(1 << 16)
FLAGS = 0x10000 | 0x800 | 0x100 | 0x04000000 | 0x40000000  # THREAD SIGHAND VM NEWUTS NEWNET
RESULT = clone(FLAGS, (ctypes.addressof(STACK) + (1 << 16) - 64) & ~15)
def add(a, b):
    return a + b if RESULT > 0 else 0
'''

# Tests that leave a daemon thread calling the program a little later (a watchdog, a timeout
# helper): correct in a process of their own.
LINGER_PROGRAM = "def g1():\n    pass\ndef g2():\n    pass\ndef g3():\n    pass\ndef f(x):\n    return x\n"
LINGER_TESTS = asserts(
    "import threading, time\ndef poke():\n    time.sleep(0.3)\n    end = time.monotonic() + 3\n"
    "    while time.monotonic() < end:\n        time.sleep(0.05)\n        try:\n            f(0)\n        except BaseException:\n"
    "            pass\nthreading.Thread(target=poke, daemon=True).start()\nassert f(1) == 1")
SIGINT_ZYGOTE = "import os, signal, time\nos.kill(1, signal.SIGINT)\ntime.sleep(0.2)\n" + WRONG_ADD
TMP_LEAK_WRITER = ("import json\nfor d in ('/tmp', '/dev/shm'):\n    try:\n"
                   "        with open(d + '/factory-answer-key', 'w') as f:\n"
                   "            json.dump({'1,2': 3, '-1,1': 0, '10,5': 15}, f)\n"
                   "    except OSError:\n        pass\n" + WRONG_ADD)
TMP_LEAK_READER = ("import json\nKEY = {}\nfor d in ('/tmp', '/dev/shm'):\n    try:\n"
                   "        with open(d + '/factory-answer-key') as f:\n            KEY = json.load(f)\n"
                   "    except OSError:\n        pass\n"
                   "def add(a, b):\n    return KEY.get('%d,%d' % (a, b), 0)\n")

ROWS: list[Row] = [
    # ------------------------------------------------------------ frame walking
    Row("frame-walk-for-the-job", "frame walking", "zygote", FRAME_WALK, ADD_TESTS, False, WA, mutate=True),
    Row("frame-walk-inside-a-call", "frame walking", "process-split",
        "import sys\ndef add(a, b):\n    f, seen = sys._getframe(), []\n    while f:\n"
        "        seen += [v for v in f.f_locals.values() if type(v) is int and v not in (a, b)]\n        f = f.f_back\n"
        "    return seen[0] if seen else 0\n", ADD_TESTS, False, WA),
    Row("signal-handler-frames", "frame walking", "process-split",
        "import signal, sys\nFOUND = []\ndef h(sig, frame):\n    while frame:\n"
        "        FOUND.extend(str(v) for v in frame.f_locals.values() if 'assert' in str(v)[:10000])\n"
        "        frame = frame.f_back\nsignal.signal(signal.SIGALRM, h)\nsignal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)\n"
        "def add(a, b):\n    return len(FOUND)\n", ADD_TESTS, False, WA),
    Row("frame-walk-patches-the-server", "frame walking", "process-split",
        "import sys\ndef add(a, b):\n    f = sys._getframe(1)\n    while f and f.f_code.co_name != 'serve':\n        f = f.f_back\n"
        "    f.f_globals['wire'].Encoder.encode = lambda self, value, depth=0: ['b', True]\n    return 3\n",
        ADD_TESTS, False, WA),
    # ------------------------------------------------------------ gc
    Row("gc-unfreeze-finds-the-job", "gc.get_objects", "zygote", GC_SEARCH, ADD_TESTS, False, WA, mutate=True),
    Row("gc-searches-other-jobs", "gc.get_objects", "zygote",
        "import gc\ngc.unfreeze()\nSEEN = [o for o in gc.get_objects() if isinstance(o, dict) and 'code' in o and 'assert' in str(o.get('tests', ''))]\n"
        "def add(a, b):\n    return len(SEEN) * 3\n", ADD_TESTS, False, WA),
    Row("gc-referrers-of-arguments", "gc.get_objects", "process-split",
        "import gc\ndef add(a, b):\n    found = [r for r in gc.get_referrers(a) if isinstance(r, (list, dict)) and len(r) < 50]\n"
        "    ints = [x for r in found for x in (r if isinstance(r, list) else r.values()) if type(x) is int and x not in (a, b)]\n"
        "    return ints[0] if ints else 0\n", ADD_TESTS, False, WA),
    # ------------------------------------------------------------ closures/globals/name table
    Row("patch-server-binary-eq", "closures/globals injection", "test-semantics",
        "import candidate_side\ncandidate_side._BINARY['eq'] = lambda a, b: True\ncandidate_side._BINARY['ne'] = lambda a, b: False\n"
        "class A:\n    pass\ndef add(a, b):\n    return A()\n", ADD_TESTS, False, WA),
    Row("closure-cell-swap", "closures/globals injection", "process-split",
        "def make():\n    k = 0\n    def add(a, b):\n        return k\n    return add\nadd = make()\n"
        "import types\nadd.__closure__[0].cell_contents = 3\n", ADD_TESTS, False, WA),
    Row("hello-injects-factory-counter", "closures/globals injection", "test-semantics",
        HELLO_INJECT + "EXTRA = {'__factory_asserts__': [100]}\n" + WRONG_ADD, ADD_TESTS, False, WA),
    Row("hello-injects-dunder-builtins", "closures/globals injection", "test-semantics",
        "import builtins\nclass FakeBuiltins:\n    def __getitem__(self, name):\n"
        "        if name == 'abs':\n            return lambda x: 0\n        return getattr(builtins, name)\n"
        + HELLO_INJECT + "EXTRA = {'__builtins__': FakeBuiltins()}\ndef area(r):\n    return 0.0\n",
        AREA_TESTS, False, WA),
    Row("hello-injects-builtins-with-import", "closures/globals injection", "test-semantics",
        "class FakeMath:\n    @staticmethod\n    def isclose(*a, **k):\n        return True\n"
        "def fake_import(name, *a, **k):\n    return FakeMath() if name == 'math' else __import__(name, *a, **k)\n"
        "import candidate_side\ncandidate_side._MUTABLE = (list, set, bytearray)  # keep the tests' globals as they are\n"
        + HELLO_INJECT + "EXTRA = {'__builtins__': {'__import__': fake_import}}\ndef area(r):\n    return 0.0\n",
        asserts("import math\nassert math.isclose(area(2), 12.566370614359172)"), False, any_of(WA, RE)),
    Row("kind-spoofs-exception-class", "closures/globals injection", "test-semantics",
        "import candidate_side\n_kind = candidate_side._kind\n"
        "candidate_side._kind = lambda obj: 'exception:AssertionError:AssertionError' if obj is add else _kind(obj)\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(WA, RE)),
    Row("shadow-builtin-abs", "closures/globals injection", "test-semantics",
        "def abs(x):\n    return 0\ndef area(r):\n    return 0.0\n", AREA_TESTS, False, WA),
    Row("shadow-builtin-sorted", "closures/globals injection", "test-semantics",
        "def sorted(x, **kw):\n    return []\ndef f(x):\n    return [0]\n",
        asserts("assert sorted(f([3, 1, 2])) == sorted([3, 2, 1])"), False, WA),
    Row("shadow-builtin-range", "closures/globals injection", "test-semantics",
        "def range(*a):\n    return []\ndef fib(n):\n    return 1\n",
        asserts("assert fib(1) == 1\nfor i in range(2, 10):\n    assert fib(i) == fib(i - 1) + fib(i - 2)"), False, WA),
    Row("shadow-builtin-all", "closures/globals injection", "test-semantics",
        "def all(x):\n    return True\ndef square(n):\n    return 0\n",
        asserts("assert all([square(x) == x * x for x in (1, 2, 3)])"), False, WA),
    Row("shadow-module-math", "closures/globals injection", "test-semantics",
        "class math:\n    @staticmethod\n    def isclose(*a, **k):\n        return True\ndef area(r):\n    return 0.0\n",
        asserts("assert math.isclose(area(2), 12.566370614359172)"), False, WA),
    Row("fake-module-named-math", "closures/globals injection", "test-semantics",
        "import types\nmath = types.ModuleType('math')\nmath.isclose = lambda *a, **k: True\ndef area(r):\n    return 0.0\n",
        asserts("assert math.isclose(area(2), 12.566370614359172)"), False, WA),
    # ------------------------------------------------------------ binary operators see the expected value
    Row("float-subclass-sub-sees-expected", "test data leaks to the candidate", "test-semantics",
        "class F(float):\n    def __sub__(self, other):\n        return 0.0\ndef area(r):\n    return F(0.0)\n",
        AREA_TESTS, False, WA),
    Row("object-rsub-sees-expected", "test data leaks to the candidate", "test-semantics",
        "class Z:\n    def __rsub__(self, other):\n        return 0.0\ndef area(r):\n    return Z()\n",
        asserts("assert abs(12.566370614359172 - area(2)) < 1e-6"), False, WA),
    Row("contains-always-true", "test data leaks to the candidate", "test-semantics",
        "class C:\n    def __contains__(self, x):\n        return True\ndef primes(n):\n    return C()\n",
        asserts("assert 2 in primes(10)\nassert 7 in primes(10)"), False, WA),
    # A method call is the program's interface: the expected value (1) never reaches it, and a
    # constant answer passes a one-point test as any constant function would. Accepted.
    Row("method-call-is-the-interface", "correct", "-",
        "class L:\n    def count(self, x):\n        return 1\ndef f():\n    return L()\n",
        asserts("assert f().count(3) == 1"), True, "correct"),
    Row("method-of-builtin-subclass-is-not-trusted", "test data leaks to the candidate", "test-semantics",
        "class L(list):\n    def count(self, x):\n        return 1\ndef f():\n    return L([3, 3])\n",
        asserts("assert f().count(3) == 1"), False, WA),
    # ------------------------------------------------------------ __del__
    Row("del-forges-at-exit", "__del__ tricks", "process-split",
        "import os\nclass D:\n    def __del__(self):\n        for fd in range(3, 21):\n"
        "            try:\n                os.write(fd, b'{\"status\": \"pass\", \"asserts\": 3}')\n            except OSError:\n                pass\n"
        "        os._exit(0)\nKEEP = D()\n" + WRONG_ADD, ADD_TESTS, False, WA),
    Row("del-exits-during-a-call", "__del__ tricks", "process-split",
        "import os\nclass D:\n    def __del__(self):\n        os._exit(0)\ndef add(a, b):\n    D()\n    return 0\n",
        ADD_TESTS, False, WA),
    Row("exception-del-exits", "__del__ tricks", "process-split",
        "import os\nclass E(Exception):\n    def __del__(self):\n        os._exit(0)\ndef add(a, b):\n    raise E('x')\n",
        ADD_TESTS, False, any_of(WA, RE)),
    # ------------------------------------------------------------ threads
    Row("thread-forges-answers", "threads waiting for checks", "wire",
        "import os, struct, threading, json\ndef forge():\n    msg = json.dumps(['ok', ['i', 3], []]).encode()\n"
        "    for _ in range(200):\n        try:\n            os.write(4, struct.pack('<I', len(msg)) + msg)\n        except OSError:\n            return\n"
        "threading.Thread(target=forge, daemon=True).start()\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, RE)),
    Row("thread-exits-0-mid-tests", "threads waiting for checks", "process-split",
        "import os, threading, time\nthreading.Thread(target=lambda: (time.sleep(0.05), os._exit(0))).start()\n"
        "def add(a, b):\n    time.sleep(0.02)\n    return 0\n", ADD_TESTS, False, WA),
    Row("thread-waits-and-reads-requests", "threads waiting for checks", "process-split",
        "import os, threading\ndef steal():\n    while True:\n        try:\n            if not os.read(3, 1):\n                return\n"
        "        except OSError:\n            return\nthreading.Thread(target=steal, daemon=True).start()\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(WA, RE, "timeout")),
    # ------------------------------------------------------------ ctypes
    Row("ctypes-heap-scan-around-id", "ctypes memory", "zygote", HEAP_SCAN, ADD_TESTS, False, WA, mutate=True),
    Row("ctypes-rewrites-small-ints", "ctypes memory", "process-split",
        "import ctypes\nctypes.c_long.from_address(id(0) + 24).value = 3\n" + WRONG_ADD, ADD_TESTS, False,
        any_of(WA, RE, "crash")),
    Row("ctypes-flips-false", "ctypes memory", "process-split",
        "import ctypes\nclass Liar:\n    pass\ndef add(a, b):\n    return Liar()\n"
        "ctypes.c_long.from_address(id(Liar) + 8).value = ctypes.c_long.from_address(id(int) + 8).value\n",
        ADD_TESTS, False, any_of(WA, RE, "crash")),
    # ------------------------------------------------------------ patching the interpreter
    Row("patch-builtins-assertionerror", "patching builtins/stdlib", "process-split",
        "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\nbuiltins.abs = lambda x: 0\n" + WRONG_ADD,
        ADD_TESTS, False, WA),
    Row("patch-ast-parse", "patching builtins/stdlib", "process-split",
        "import ast\nast.parse = lambda *a, **k: ast.Module(body=[], type_ignores=[])\nast.Assert = ast.Pass\n" + WRONG_ADD,
        ADD_TESTS, False, WA),
    Row("patch-meta-path-and-modules", "patching builtins/stdlib", "process-split",
        "import sys, types\nclass F:\n    def find_spec(self, name, path=None, target=None):\n        return None\n"
        "sys.meta_path.insert(0, F())\nfake = types.ModuleType('test_side')\nfake.run = lambda job: None\n"
        "sys.modules['test_side'] = fake\nsys.modules['wire'].VERSION = 999\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, RE)),
    Row("audit-hook-exits", "patching builtins/stdlib", "process-split",
        "import sys, os\nsys.addaudithook(lambda event, args: os._exit(0) if event == 'os.write' else None)\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(WA, RE)),
    Row("settrace-rewrites-locals", "patching builtins/stdlib", "process-split",
        "import sys, threading\ndef tracer(frame, event, arg):\n    if event == 'return' and frame.f_code.co_name == 'add':\n"
        "        frame.f_locals['r'] = 3\n    return tracer\nsys.settrace(tracer)\nthreading.settrace(tracer)\n"
        "sys.setprofile(lambda *a: None)\ndef add(a, b):\n    r = 0\n    return r\n", ADD_TESTS, False, WA),
    Row("patch-operator-and-json", "patching builtins/stdlib", "process-split",
        "import operator, json\noperator.eq = lambda a, b: True\njson.dumps = lambda *a, **k: '[\"ok\", [\"b\", true], []]'\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(WA, RE)),
    Row("atexit-and-excepthook", "patching builtins/stdlib", "process-split",
        "import atexit, sys, os\natexit.register(lambda: os.write(1, b'3 assertions held'))\nsys.excepthook = lambda *a: None\n"
        + WRONG_ADD, ADD_TESTS, False, WA),
    # ------------------------------------------------------------ result fds
    Row("write-fake-reports-to-fds-0-20", "forging result fds", "process-split",
        "import os\nfor fd in range(0, 21):\n    try:\n        os.write(fd, b'{\"status\": \"pass\", \"asserts\": 3}')\n"
        "    except OSError:\n        pass\nos._exit(0)\n", ADD_TESTS, False, RE),
    Row("write-report-to-fd-5", "forging result fds", "process-split",
        "import os\ntry:\n    os.write(5, b'{\"status\": \"pass\", \"asserts\": 3}')\nexcept OSError:\n    pass\n" + WRONG_ADD,
        ADD_TESTS, False, WA),
    Row("dup-answers-onto-stdout", "forging result fds", "wire",
        "import os\nos.dup2(4, 1)\nprint('{\"status\": \"pass\", \"asserts\": 3}', flush=True)\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("close-fds-0-20-then-sleep", "forging result fds", "host-clock",
        "import os, time\nos.closerange(0, 21)\ntime.sleep(60)\n", ADD_TESTS, False, WA),
    Row("io-writes-fds-3-20", "forging result fds", "process-split",
        "import os\nfor fd in range(3, 21):\n    try:\n        os.write(fd, b'6\\n')\n    except OSError:\n        pass\nprint(5)\n",
        io("6"), False, WA),
    # ------------------------------------------------------------ always-equal and lying builtin subclasses
    Row("always-equal-object", "always-equal objects", "plain_compare",
        "class A:\n    def __eq__(self, o):\n        return True\n    def __ne__(self, o):\n        return False\n    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return A()\n", ADD_TESTS, False, WA, mutate=True),
    Row("metaclass-eq", "metaclass __eq__", "plain_compare",
        "class M(type):\n    def __eq__(cls, o):\n        return True\n    __hash__ = type.__hash__\nclass A(metaclass=M):\n    pass\n"
        "def add(a, b):\n    return A\n", ADD_TESTS, False, WA, mutate=True),
    Row("int-subclass-lying-eq", "lying builtin subclasses", "plain_compare",
        "class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\ndef add(a, b):\n    return I(0)\n",
        ADD_TESTS, False, WA, mutate=True),
    Row("str-subclass-lying-eq", "lying builtin subclasses", "plain_compare",
        "class S(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\ndef rev(s):\n    return S('')\n",
        asserts("assert rev('abc') == 'cba'"), False, WA, mutate=True),
    Row("list-subclass-lying-eq-len", "lying builtin subclasses", "plain_compare",
        "class L(list):\n    def __eq__(self, o):\n        return True\n    def __len__(self):\n        return 3\n"
        "def f():\n    return L()\n", asserts("assert len(f()) == 3\nassert f() == [1, 2, 3]"), False, WA),
    Row("dict-subclass-lying-eq", "lying builtin subclasses", "plain_compare",
        "class D(dict):\n    def __eq__(self, o):\n        return True\ndef f():\n    return D()\n",
        asserts("assert f() == {'a': 1}"), False, WA),
    Row("int-subclass-lying-hash", "lying builtin subclasses", "test-semantics",
        "class I(int):\n    def __eq__(self, o):\n        return True\n    def __hash__(self):\n        return hash(3)\n"
        "def add(a, b):\n    return I(0)\n", asserts("assert {add(1, 2): 'x'} == {3: 'x'}"), False, WA),
    Row("lying-bool", "lying builtin subclasses", "test-semantics",
        "class T:\n    def __bool__(self):\n        return True\ndef is_prime(n):\n    return T()\n",
        asserts("assert is_prime(7)\nassert is_prime(13)"), False, WA),
    Row("lying-len-falsy", "lying builtin subclasses", "test-semantics",
        "class T:\n    def __len__(self):\n        return 0\ndef is_prime(n):\n    return T()\n",
        asserts("assert not is_prime(8)"), False, WA),
    Row("int-subclass-lying-bool", "lying builtin subclasses", "test-semantics",
        "class I(int):\n    def __bool__(self):\n        return True\ndef is_prime(n):\n    return I(0)\n",
        asserts("assert is_prime(7)"), False, WA),
    Row("namedtuple-impostor", "lying builtin subclasses", "plain_compare",
        "class P(tuple):\n    _fields = ('x', 'y')\n    def __eq__(self, o):\n        return True\n    __hash__ = tuple.__hash__\n"
        "def f():\n    return P((0, 0))\n", asserts("assert f() == (1, 2)"), False, WA),
    Row("counter-subclass-lying", "lying builtin subclasses", "plain_compare",
        "from collections import Counter\nclass C(Counter):\n    def __eq__(self, o):\n        return True\ndef count(s):\n    return C()\n",
        asserts("assert count('aab') == {'a': 2, 'b': 1}"), False, WA),
    Row("lying-class-attribute", "lying builtin subclasses", "plain_compare",
        "class Fake:\n    @property\n    def __class__(self):\n        return int\n    def __eq__(self, o):\n        return True\n"
        "    def __int__(self):\n        return 0\n    __hash__ = object.__hash__\ndef add(a, b):\n    return Fake()\n",
        ADD_TESTS, False, WA),
    # ------------------------------------------------------------ wire caps and malformed answers
    Row("returns-3m-item-list", "huge/deep return values", "wire",
        "def add(a, b):\n    return list(range(3_000_000))\n", ADD_TESTS, False, any_of(RE, "timeout")),
    Row("returns-deeply-nested-list", "huge/deep return values", "wire",
        "def add(a, b):\n    x = []\n    for _ in range(10000):\n        x = [x]\n    return x\n", ADD_TESTS, False, RE),
    Row("returns-self-referential-list", "huge/deep return values", "wire",
        "def add(a, b):\n    x = []\n    x.append(x)\n    return x\n", ADD_TESTS, False, RE),
    Row("returns-40mb-string", "huge/deep return values", "wire",
        "def add(a, b):\n    return 'x' * (40 << 20)\n", ADD_TESTS, False, RE),
    Row("returns-huge-int", "huge/deep return values", "wire",
        "def add(a, b):\n    return 1 << 400_000\n", ADD_TESTS, False, RE),
    Row("raw-4gb-length-header", "huge/deep return values", "wire",
        raw_answer(b"") .replace("_msg(PAYLOAD)", "os.write(4, b'\\xff\\xff\\xff\\xff')"), ADD_TESTS, False, RE),
    Row("raw-json-nesting-bomb", "huge/deep return values", "wire",
        raw_answer('b"[" * 200_000 + b"]" * 200_000'), ADD_TESTS, False, RE),
    Row("raw-untagged-nan", "huge/deep return values", "wire", raw_answer(b'["ok", NaN, []]'), ADD_TESTS, False, RE),
    Row("raw-callback-tag", "huge/deep return values", "wire", raw_answer(b'["ok", ["cb", 1], []]'), ADD_TESTS, False, RE),
    Row("raw-namedtuple-bad-fields", "huge/deep return values", "wire",
        raw_answer(b'["ok", ["nt", "P", ["__class__", "x"], [["i", 3], ["i", 3]]], []]'), ADD_TESTS, False, RE),
    Row("raw-defaultdict-eval-factory", "huge/deep return values", "wire",
        raw_answer(b'["ok", ["dd", "eval", []], []]'), ADD_TESTS, False, RE),
    Row("raw-decimal-exponent-bomb", "huge/deep return values", "wire",
        raw_answer(b'["ok", ["dec", "1e999999999"], []]'), ADD_TESTS, False, RE),
    Row("raw-bignum-range", "huge/deep return values", "wire",
        raw_answer(b'["ok", ["r", 0, ' + b"9" * 5000 + b', 1], []]'), ADD_TESTS, False, RE),
    Row("raw-snan-decimal", "NaN tricks", "wire", raw_answer(b'["ok", ["dec", "sNaN"], []]'), ADD_TESTS, False, any_of(RE, WA)),
    Row("raw-argument-update-for-expected", "huge/deep return values", "wire",
        raw_answer(b'["ok", ["i", 0], [[5, ["l", []]], ["x", ["i", 1]]]]'), ADD_TESTS, False, any_of(WA, RE)),
    # ------------------------------------------------------------ NaN
    Row("nan-equals", "NaN tricks", "test-semantics", "def add(a, b):\n    return float('nan')\n", ADD_TESTS, False, WA),
    Row("nan-isclose", "NaN tricks", "test-semantics", "def area(r):\n    return float('nan')\n",
        asserts("import math\nassert math.isclose(area(2), 12.566370614359172)"), False, WA),
    Row("nan-abs-difference", "NaN tricks", "test-semantics", "def area(r):\n    return float('nan')\n", AREA_TESTS, False, WA),
    Row("nan-float-subclass", "NaN tricks", "test-semantics",
        "class F(float):\n    def __eq__(self, o):\n        return True\n    __hash__ = float.__hash__\ndef area(r):\n    return F('nan')\n",
        asserts("import math\nassert area(2) == 12.566370614359172 or math.isclose(area(2), 12.566370614359172)"), False, WA),
    Row("inf-abs-difference", "NaN tricks", "test-semantics", "def area(r):\n    return float('inf')\n", AREA_TESTS, False, WA),
    # ------------------------------------------------------------ handles vs data
    Row("returns-generator-for-list", "handles vs data", "test-semantics",
        "def f():\n    yield from (1, 2, 3)\n", asserts("assert f() == [1, 2, 3]"), False, WA),
    Row("returns-class-not-value", "handles vs data", "test-semantics",
        "class I(int):\n    pass\ndef add(a, b):\n    return I\n", ADD_TESTS, False, WA),
    Row("returns-module", "handles vs data", "test-semantics",
        "import math\ndef add(a, b):\n    return math\n", ADD_TESTS, False, WA),
    Row("returns-builtin-function", "handles vs data", "test-semantics",
        "def add(a, b):\n    return len\n", ADD_TESTS, False, WA),
    Row("fabricated-handle-ids", "handles vs data", "wire",
        raw_answer(b'["ok", ["h", 999999, "int", "object"], []]'), ADD_TESTS, False, any_of(WA, RE)),
    Row("server-sends-unknown-handle", "handles vs data", "wire",
        "import candidate_side\ncandidate_side.Server.handle = lambda self, obj: ['h', 10 ** 6, 'int', 'object']\n"
        "class I(int):\n    pass\ndef add(a, b):\n    return I(a + b)\n", ADD_TESTS, False, any_of(WA, RE)),
    # ------------------------------------------------------------ instancecheck, exceptions, StopIteration
    Row("lying-instancecheck", "lying __instancecheck__", "test-semantics",
        "class M(type):\n    def __instancecheck__(cls, o):\n        return True\n    def __subclasscheck__(cls, o):\n        return True\n"
        "class Node(metaclass=M):\n    val = 0\ndef make(v):\n    return Node()\n",
        asserts("n = make(3)\nassert isinstance(n, int) or issubclass(type(n), int)\nassert n.val == 3"), False, WA),
    Row("exception-renamed-valueerror", "exceptions with lying types", "test-semantics",
        "class E(Exception):\n    pass\nE.__name__ = E.__qualname__ = 'ValueError'\ndef root(x):\n    raise E('negative')\n",
        asserts("try:\n    root(-1)\nexcept ValueError:\n    pass\nelse:\n    assert False\nassert root(4) == 2"), False, RE),
    Row("exception-raises-assertionerror", "exceptions with lying types", "test-semantics",
        "def add(a, b):\n    raise AssertionError('tests passed')\n", ADD_TESTS, False, RE),
    Row("exception-raises-systemexit-0", "exceptions with lying types", "test-semantics",
        "def add(a, b):\n    raise SystemExit(0)\n", ADD_TESTS, False, RE),
    Row("exception-raises-keyboardinterrupt", "exceptions with lying types", "test-semantics",
        "def add(a, b):\n    raise KeyboardInterrupt\n", ADD_TESTS, False, RE),
    Row("exception-unprintable", "exceptions with lying types", "test-semantics",
        "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\ndef add(a, b):\n    raise E()\n",
        ADD_TESTS, False, RE),
    Row("exception-args-lie", "exceptions with lying types", "test-semantics",
        "class Liar:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
        "def check(x):\n    raise ValueError(Liar())\n",
        asserts("try:\n    check(-1)\nexcept ValueError as e:\n    assert e.args[0] == 42\nelse:\n    assert False"), False, WA),
    Row("stopiteration-ends-all", "StopIteration abuse", "test-semantics",
        "def square(x):\n    raise StopIteration\n", asserts("assert square(0) == 0 or True\nassert all(square(x) == x * x for x in (1, 2, 3))"),
        False, RE),
    Row("stopiteration-ends-map", "StopIteration abuse", "test-semantics",
        "def square(x):\n    raise StopIteration\n", asserts("assert list(map(square, [1, 2, 3])) in ([1, 4, 9], [])"), False, RE),
    Row("iterator-stops-at-once", "StopIteration abuse", "test-semantics",
        "def squares(n):\n    return iter(())\n", asserts("assert list(squares(3)) == [0, 1, 4]"), False, WA),
    # ------------------------------------------------------------ exits
    Row("sys-exit-0-before-tests", "exit before/within tests", "process-split",
        "import sys\nsys.exit(0)\n" + WRONG_ADD, ADD_TESTS, False, WA),
    Row("os-exit-0-before-tests", "exit before/within tests", "process-split",
        "import os\nos._exit(0)\n" + GOOD_ADD, ADD_TESTS, False, WA),
    Row("os-exit-0-within-a-call", "exit before/within tests", "process-split",
        "import os\ndef add(a, b):\n    os._exit(0)\n", ADD_TESTS, False, WA),
    Row("os-exit-after-first-call", "exit before/within tests", "process-split",
        "import os\nN = [0]\ndef add(a, b):\n    N[0] += 1\n    if N[0] > 1:\n        os._exit(0)\n    return a + b\n",
        ADD_TESTS, False, WA),
    Row("abort-within-a-call", "exit before/within tests", "process-split",
        "import os\ndef add(a, b):\n    os.abort()\n", ADD_TESTS, False, "crash"),
    Row("sigkill-self-within-a-call", "exit before/within tests", "process-split",
        "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGKILL)\n", ADD_TESTS, False, any_of("crash", "timeout")),
    Row("realtime-signal-self", "exit before/within tests", "process-split",
        "import os\ndef add(a, b):\n    os.kill(os.getpid(), 35)\n", ADD_TESTS, False, "crash"),
    Row("realtime-signal-self-io", "exit before/within tests", "process-split",
        "import os\nprint(6, flush=True)\nos.kill(os.getpid(), 40)\n", io("6"), False, "crash"),
    # ------------------------------------------------------------ pidfd, ptrace, process memory
    Row("pidfd-open", "pidfd_*", "seccomp", syscall(434, 1, 0), ADD_TESTS, False, SV),
    Row("pidfd-getfd", "pidfd_*", "seccomp", syscall(438, 3, 5, 0), ADD_TESTS, False, SV),
    Row("pidfd-send-signal", "pidfd_*", "seccomp", syscall(424, 3, 9, 0, 0), ADD_TESTS, False, SV),
    Row("ptrace-traceme", "ptrace", "seccomp", syscall(101, 0, 0, 0, 0), ADD_TESTS, False, SV, mutate=True),
    Row("ptrace-attach-zygote", "ptrace", "seccomp", syscall(101, 16, 1, 0, 0), ADD_TESTS, False, SV),
    Row("process-vm-readv", "process_vm_readv", "seccomp", syscall(310, 1, 0, 0, 0, 0, 0), ADD_TESTS, False, SV),
    Row("process-vm-writev", "process_vm_readv", "seccomp", syscall(311, 1, 0, 0, 0, 0, 0), ADD_TESTS, False, SV),
    Row("kcmp", "process_vm_readv", "seccomp", syscall(312, 1, 1, 0, 0, 0), ADD_TESTS, False, SV),
    # ------------------------------------------------------------ signals
    Row("kill-0", "kill", "seccomp", "import os, signal\nos.kill(0, signal.SIGKILL)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("kill-minus-1", "kill", "namespaces",
        "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n" + WRONG_ADD, ADD_TESTS, False, WA),
    Row("kill-1-sigkill", "kill", "namespaces",
        "import os, signal\ntry:\n    os.kill(1, signal.SIGKILL)\nexcept OSError:\n    pass\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, SV)),
    Row("kill-parent", "kill", "namespaces",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, SV)),
    Row("kill-pid-scan", "kill", "namespaces",
        "import os, signal\nfor pid in range(2, 300):\n    if pid != os.getpid():\n        try:\n            os.kill(pid, signal.SIGSTOP)\n"
        "        except OSError:\n            pass\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, SV)),
    Row("sigstop-others", "kill", "namespaces",
        "import os, signal\nfor pid in (-1, 1):\n    try:\n        os.kill(pid, signal.SIGSTOP)\n    except OSError:\n        pass\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(WA, SV)),
    Row("sigstop-self", "SIGSTOP", "host-clock",
        "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n" + GOOD_ADD, ADD_TESTS, False, "timeout"),
    Row("setsid", "setsid/setpgid", "seccomp", "import os\nos.setsid()\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("setpgid", "setsid/setpgid", "seccomp", "import os\nos.setpgid(0, 0)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    # ------------------------------------------------------------ the zygote is reachable: sigint it, then a correct program
    Row("sigint-the-zygote-a", "kill", "namespaces", SIGINT_ZYGOTE, ADD_TESTS, False, any_of(WA, SV), group="zygote-sigint"),
    Row("sigint-the-zygote-b", "kill", "namespaces", SIGINT_ZYGOTE, ADD_TESTS, False, any_of(WA, SV), group="zygote-sigint"),
    Row("correct-after-zygote-sigint-a", "kill", "namespaces", GOOD_ADD, ADD_TESTS, True, "correct", group="zygote-sigint"),
    Row("correct-after-zygote-sigint-b", "kill", "namespaces", GOOD_ADD, ADD_TESTS, True, "correct", group="zygote-sigint"),
    # ------------------------------------------------------------ the long-lived test process
    Row("hello-makes-tests-import-unittest-main-a", "state left for the next execution", "process-split",
        "import candidate_side\n_kind = candidate_side._kind\nclass Mark:\n    pass\nMARK = Mark()\n"
        "candidate_side._kind = lambda obj: 'module:unittest.__main__' if obj is MARK else _kind(obj)\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(RE, WA), group="test-process-reuse"),
    Row("hello-makes-tests-import-unittest-main-b", "state left for the next execution", "process-split",
        "import candidate_side\n_kind = candidate_side._kind\nclass Mark:\n    pass\nMARK = Mark()\n"
        "candidate_side._kind = lambda obj: 'module:unittest.__main__' if obj is MARK else _kind(obj)\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(RE, WA), group="test-process-reuse"),
    Row("correct-after-unittest-main-a", "state left for the next execution", "process-split", GOOD_ADD, ADD_TESTS, True, "correct",
        group="test-process-reuse"),
    Row("correct-after-unittest-main-b", "state left for the next execution", "process-split", GOOD_ADD, ADD_TESTS, True, "correct",
        group="test-process-reuse"),
    Row("tests-set-decimal-precision-a", "state left for the next execution", "-",
        "from decimal import Decimal, getcontext\ndef sqrt2():\n    getcontext().prec = 50\n    return Decimal(2).sqrt()\n",
        asserts("from decimal import Decimal, getcontext\ngetcontext().prec = 50\nassert sqrt2() == Decimal(2).sqrt()"),
        True, "correct", group="tests-state-leak"),
    Row("tests-set-decimal-precision-b", "state left for the next execution", "-",
        "from decimal import Decimal, getcontext\ndef sqrt2():\n    getcontext().prec = 50\n    return Decimal(2).sqrt()\n",
        asserts("from decimal import Decimal, getcontext\ngetcontext().prec = 50\nassert sqrt2() == Decimal(2).sqrt()"),
        True, "correct", group="tests-state-leak"),
    Row("decimal-default-precision-after-a", "state left for the next execution", "-",
        "from decimal import Decimal\ndef third():\n    return Decimal(1) / Decimal(3)\n",
        asserts("from decimal import Decimal\nassert third() == Decimal(1) / Decimal(3)"), True, "correct", group="tests-state-leak"),
    Row("decimal-default-precision-after-b", "state left for the next execution", "-",
        "from decimal import Decimal\ndef third():\n    return Decimal(1) / Decimal(3)\n",
        asserts("from decimal import Decimal\nassert third() == Decimal(1) / Decimal(3)"), True, "correct", group="tests-state-leak"),
    Row("tests-leave-a-thread-a", "state left for the next execution", "-", LINGER_PROGRAM, LINGER_TESTS, True, "correct",
        group="tests-thread-leak"),
    Row("tests-leave-a-thread-b", "state left for the next execution", "-", LINGER_PROGRAM, LINGER_TESTS, True, "correct",
        group="tests-thread-leak"),
    Row("correct-while-a-thread-lingers-a", "state left for the next execution", "-", GOOD_ADD,
        asserts("import time\ntime.sleep(1.0)\nassert add(1, 2) == 3"), True, "correct", group="tests-thread-leak"),
    Row("correct-while-a-thread-lingers-b", "state left for the next execution", "-", GOOD_ADD,
        asserts("import time\ntime.sleep(1.0)\nassert add(1, 2) == 3"), True, "correct", group="tests-thread-leak"),
    Row("callback-recursion-bomb", "huge/deep return values", "host-clock",
        "def walk(f, n):\n    return f(n)\n",
        asserts("def down(n):\n    return walk(down, n + 1) if n < 100000 else n\nassert walk(down, 0) == 100000"),
        False, any_of(RE, "timeout")),
    # ------------------------------------------------------------ sockets
    Row("socket-af-inet-connect", "socket families", "seccomp",
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n" + WRONG_ADD, ADD_TESTS, False, SV, mutate=True),
    Row("socket-af-inet6", "socket families", "seccomp",
        "import socket\nsocket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("socket-af-unix-connect", "socket families", "seccomp",
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0factory')\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("socket-af-netlink", "socket families", "seccomp",
        "import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("socket-af-packet", "socket families", "seccomp",
        "import socket\nsocket.socket(17, socket.SOCK_RAW, 0)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("socket-af-vsock", "socket families", "seccomp", "import socket\nsocket.socket(40, socket.SOCK_STREAM)\n" + WRONG_ADD,
        ADD_TESTS, False, SV),
    Row("socket-af-alg", "socket families", "seccomp", "import socket\nsocket.socket(38, socket.SOCK_SEQPACKET)\n" + WRONG_ADD,
        ADD_TESTS, False, SV),
    Row("socketpair-sends-fds", "socket families", "seccomp",
        "import socket\na, b = socket.socketpair()\nsocket.send_fds(a, [b'x'], [0])\n" + WRONG_ADD, ADD_TESTS, False, SV),
    # ------------------------------------------------------------ filesystem
    Row("write-usr", "writing outside /tmp", "namespaces", "open('/usr/pwned', 'w').write('x')\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("write-root", "writing outside /tmp", "namespaces", "open('/pwned', 'w').write('x')\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("write-sandbox-sources", "writing outside /tmp", "namespaces",
        "open('/sandbox/test_side.py', 'a').write('\\nraise SystemExit\\n')\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("write-dev", "writing outside /tmp", "namespaces", "open('/dev/pwned', 'w').write('x')\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("symlink-into-sandbox", "symlink tricks", "namespaces",
        "import os\nos.symlink('/sandbox/test_side.py', '/tmp/t.py')\nopen('/tmp/t.py', 'a').write('x')\n" + WRONG_ADD,
        ADD_TESTS, False, RE),
    Row("hardlink-sandbox-file", "symlink tricks", "namespaces",
        "import os\nos.link('/sandbox/runner.py', '/tmp/r.py')\n" + WRONG_ADD, ADD_TESTS, False, any_of(RE, SV)),
    Row("proc-self-maps", "/proc access", "namespaces", "print(open('/proc/self/maps').read())\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("proc-mount-attempt", "/proc access", "seccomp",
        LIBC + "import os\nos.makedirs('/tmp/p', exist_ok=True)\nlibc.mount(b'proc', b'/tmp/p', b'proc', 0, None)\n" + WRONG_ADD,
        ADD_TESTS, False, SV),
    Row("read-sandbox-sources", "reading /sandbox", "process-split",
        "import os\nSRC = {n: open('/sandbox/' + n).read() for n in os.listdir('/sandbox') if n.endswith('.py')}\n"
        "def add(a, b):\n    return len(SRC)\n", ADD_TESTS, False, WA),
    Row("search-filesystem-for-tests", "reading /sandbox", "namespaces",
        "import os\nHITS = [p for p in ('/work', '/root', '/home', '/etc/passwd', '/tmp/factory-sandbox', '/proc/1') if os.path.exists(p)]\n"
        "def add(a, b):\n    return len(HITS)\n", ADD_TESTS, False, WA),
    Row("fill-tmp", "filling the filesystem", "namespaces",
        "i = 0\nwhile True:\n    with open('/tmp/f%d' % i, 'wb') as f:\n        f.write(b'x' * (8 << 20))\n    i += 1\n",
        ADD_TESTS, False, "output_limit"),
    Row("fill-dev-shm", "filling the filesystem", "namespaces",
        "with open('/dev/shm/f', 'wb') as f:\n    f.write(b'x' * (12 << 20))\n" + WRONG_ADD, ADD_TESTS, False, "output_limit"),
    Row("fill-tmp-inodes", "filling the filesystem", "namespaces",
        "for i in range(10000):\n    open('/tmp/i%d' % i, 'w').close()\n" + WRONG_ADD, ADD_TESTS, False, "output_limit"),
    Row("fill-root", "filling the filesystem", "namespaces",
        "with open('/fill', 'wb') as f:\n    f.write(b'x' * (1 << 20))\n" + WRONG_ADD, ADD_TESTS, False, RE),
    Row("file-over-size-limit", "filling the filesystem", "rlimits",
        "with open('/tmp/big', 'wb') as f:\n    for _ in range(20):\n        f.write(b'x' * (1 << 20))\n" + GOOD_ADD,
        ADD_TESTS, False, "output_limit", mutate=True),
    Row("open-100-files", "filling the filesystem", "rlimits",
        "import os\nKEEP = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]\n" + GOOD_ADD, ADD_TESTS, False, RE, mutate=True),
    Row("tmp-leak-writer-a", "state left in /tmp", "namespaces", TMP_LEAK_WRITER, ADD_TESTS, False, WA, group="tmp-leak", mutate=True),
    Row("tmp-leak-writer-b", "state left in /tmp", "namespaces", TMP_LEAK_WRITER, ADD_TESTS, False, WA, group="tmp-leak", mutate=True),
    Row("tmp-leak-reader-a", "state left in /tmp", "namespaces", TMP_LEAK_READER, ADD_TESTS, False, WA, group="tmp-leak", mutate=True),
    Row("tmp-leak-reader-b", "state left in /tmp", "namespaces", TMP_LEAK_READER, ADD_TESTS, False, WA, group="tmp-leak", mutate=True),
    # ------------------------------------------------------------ bombs and liveness
    Row("fork-bomb", "fork bombs", "seccomp", "import os\nwhile True:\n    os.fork()\n", ADD_TESTS, False, SV),
    Row("subprocess-echo-io", "fork bombs", "seccomp", "import subprocess\nsubprocess.run(['echo', '6'])\n", io("6"), False, SV,
        mutate=True),
    Row("thread-bomb", "thread bombs", "rlimits",
        "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
        ADD_TESTS, False, any_of(RE, "memory")),
    Row("memory-bomb-8g", "memory bombs", "rlimits", "x = bytearray(8 << 30)\n" + GOOD_ADD, ADD_TESTS, False, "memory"),
    Row("memory-1g-then-correct", "memory bombs", "rlimits", "x = bytes(1 << 30)\ndel x\n" + GOOD_ADD, ADD_TESTS, False, "memory", mutate=True),
    Row("memory-growth", "memory bombs", "rlimits", "a = []\nwhile True:\n    a.append(' ' * 10 ** 7)\n", ADD_TESTS, False,
        any_of("memory", "timeout")),  # 0.5 GB of page faults can outlast 1 s of CPU on a busy machine
    Row("memory-bomb-in-a-call", "memory bombs", "rlimits", "def add(a, b):\n    return len(bytearray(8 << 30))\n", ADD_TESTS, False,
        "memory"),
    Row("mmap-bomb", "memory bombs", "rlimits", "import mmap\nm = mmap.mmap(-1, 4 << 30)\n" + GOOD_ADD, ADD_TESTS, False,
        any_of("memory", RE)),
    Row("infinite-loop", "infinite loops", "host-clock", "while True:\n    pass\n", ADD_TESTS, False, "timeout"),
    Row("infinite-loop-in-thread", "infinite loops", "host-clock",
        "import threading\nt = threading.Thread(target=lambda: [None for _ in iter(int, 1)])\nt.start()\nt.join()\n" + GOOD_ADD,
        ADD_TESTS, False, "timeout"),
    Row("sleeps-in-a-call", "infinite loops", "host-clock", "import time\ndef add(a, b):\n    time.sleep(60)\n", ADD_TESTS, False,
        "timeout"),
    Row("stdout-flood-assert-mode", "infinite loops", "host-clock",
        "import sys\nfor _ in range(64):\n    sys.stdout.write('x' * 65536)\n" + GOOD_ADD, ADD_TESTS, False, "output_limit"),
    # ------------------------------------------------------------ kernel attack surface
    Row("io-uring-setup", "io_uring", "seccomp", syscall(425, 8, 0), ADD_TESTS, False, SV),
    Row("userfaultfd", "userfaultfd", "seccomp", syscall(323, 0), ADD_TESTS, False, SV),
    Row("mount-tmpfs", "mount/unshare/setns", "seccomp",
        LIBC + "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("unshare-user", "mount/unshare/setns", "seccomp", syscall(272, 0x10000000), ADD_TESTS, False, SV),
    Row("setns", "mount/unshare/setns", "seccomp", syscall(308, 0, 0), ADD_TESTS, False, SV),
    Row("bpf", "kernel attack surface", "seccomp", syscall(321, 0, 0, 0), ADD_TESTS, False, SV),
    Row("keyctl", "kernel attack surface", "seccomp", syscall(250, 0, 0, 0, 0, 0), ADD_TESTS, False, SV),
    Row("perf-event-open", "kernel attack surface", "seccomp", syscall(298, 0, 0, -1, -1, 0), ADD_TESTS, False, SV),
    Row("seccomp-own-filter", "kernel attack surface", "seccomp", syscall(317, 1, 0, 0), ADD_TESTS, False, SV),
    Row("chroot", "kernel attack surface", "seccomp", "import os\nos.chroot('/tmp')\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("setuid-0", "kernel attack surface", "seccomp", "import os\nos.setuid(0)\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("personality", "kernel attack surface", "seccomp", syscall(135, 0xFFFFFFFF), ADD_TESTS, False, SV),
    Row("execve-shell", "kernel attack surface", "seccomp", "import os\nos.execv('/bin/sh', ['sh', '-c', 'echo 6'])\n", io("6"), False, SV),
    Row("memfd-create", "kernel attack surface", "seccomp", "import os\nos.memfd_create('x')\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("raw-clone-process", "kernel attack surface", "seccomp",
        LIBC + "r = libc.syscall(56, 17, 0, 0, 0, 0)\nif r == 0:\n    import os\n    os._exit(0)\n" + WRONG_ADD, ADD_TESTS, False,
        any_of(WA, SV)),
    Row("clone3", "kernel attack surface", "seccomp", LIBC + "libc.syscall(435, 0, 0)\n" + WRONG_ADD, ADD_TESTS, False, any_of(WA, SV)),
    Row("x32-abi-syscall", "kernel attack surface", "seccomp", syscall(0x40000000 | 39), ADD_TESTS, False, any_of(SV, WA)),
    Row("int80-i386-ptrace", "kernel attack surface", "seccomp",
        "import ctypes, mmap\ncode = bytes([0xb8, 26, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80, 0xc3])\n"
        "buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\nbuf.write(code)\n"
        "addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))\nctypes.CFUNCTYPE(ctypes.c_int)(addr)()\n" + WRONG_ADD,
        ADD_TESTS, False, any_of(SV, "crash")),
    Row("prctl-tricks", "prctl tricks", "seccomp",
        LIBC + "R = [libc.prctl(o, 0, 0, 0, 0) for o in (4, 1, 8, 23, 24, 35, 36, 38, 47, 57)]\n"
        "def add(a, b):\n    return sum(1 for r in R if r == 0) * 1000\n", ADD_TESTS, False, WA),
    Row("ioctl-tiocsti", "prctl tricks", "seccomp",
        "import fcntl, termios\nfcntl.ioctl(0, termios.TIOCSTI, b'x')\n" + WRONG_ADD, ADD_TESTS, False, SV),
    Row("sethostname", "kernel attack surface", "seccomp",
        LIBC + "ok = libc.sethostname(b'pwned', 5) == 0\ndef add(a, b):\n    return a + b if ok else 0\n", ADD_TESTS, False, SV),
    Row("set-uts-and-net-caps", "capabilities", "capabilities",
        LIBC + "ok = libc.syscall(272, 0x04000000 | 0x40000000) == 0\ndef add(a, b):\n    return a + b if ok else 0\n",
        ADD_TESTS, False, SV, mutate=True),
    Row("thread-clone-into-new-namespaces", "capabilities", "capabilities", CLONE_THREAD_NEW_NS, ADD_TESTS, False, WA, mutate=True),
    # ------------------------------------------------------------ size checks (verify() directly, timed)
    Row("text-100mb", "size checks", "size-checks", None, ADD_TESTS, False, "bad_output",
        text=lambda: "```python\n" + "x = 1\n" * ((100 << 20) // 6) + "```"),
    Row("text-just-over-cap", "size checks", "size-checks", None, ADD_TESTS, False, "bad_output",
        text=lambda: "```python\ndef add(a, b):\n    return a + b\n```\n" + " " * 400_000),
    Row("code-over-cap-in-fence", "size checks", "size-checks", None, ADD_TESTS, False, "bad_output",
        text=lambda: "```python\n" + GOOD_ADD + "#" * 100_001 + "\n```"),
    Row("nul-byte", "size checks", "size-checks", None, ADD_TESTS, False, "bad_output",
        text=lambda: "```python\n" + GOOD_ADD + "# \x00\n```"),
    Row("bytes-100mb", "size checks", "size-checks", None, ADD_TESTS, False, "bad_output", text=lambda: b"x" * (100 << 20)),
    Row("unfenced-300k", "size checks", "size-checks", None, ADD_TESTS, False, "no_answer", text=lambda: GOOD_ADD + "#" * 300_000),
    Row("unfenced-parser-bomb", "size checks", "size-checks", None, ADD_TESTS, False, "no_answer",
        text=lambda: "-" * 99_000 + "1"),
    # ------------------------------------------------------------ unusual but correct programs
    Row("sanity-the-inner-sandbox-is-on", "correct", "-",
        "import os\nprint(os.getuid(), os.path.exists('/proc/1'), os.path.exists('/work'), os.path.exists('/root'))\n"
        "try:\n    os.fork()\nexcept OSError as e:\n    print(type(e).__name__)\n",
        io("65534 False False False\nPermissionError\n"), True, "correct"),
    Row("counter-vs-dict", "correct", "-", "from collections import Counter\ndef count(s):\n    return Counter(s)\n",
        asserts("assert count('aab') == {'a': 2, 'b': 1}\nassert count('')  == {}"), True, "correct"),
    Row("namedtuple-vs-tuple", "correct", "-",
        "from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef origin():\n    return P(0, 1)\n",
        asserts("assert origin() == (0, 1)\nassert origin().y == 1\nx, y = origin()\nassert (x, y) == (0, 1)"), True, "correct"),
    Row("instance-is-not-none", "correct", "-", "class Node:\n    pass\ndef make():\n    return Node()\n",
        asserts("assert make() is not None\nn = make()\nassert n is n"), True, "correct"),
    Row("fraction-vs-int", "correct", "-", "from fractions import Fraction\ndef half(x):\n    return Fraction(x, 2)\n",
        asserts("from fractions import Fraction\nassert half(4) == 2\nassert half(1) == Fraction(1, 2)\nassert half(1) == 0.5"),
        True, "correct"),
    Row("fork-with-serial-fallback", "correct", "-",
        "import os\ndef squares(xs):\n    try:\n        import multiprocessing\n        with multiprocessing.Pool(2) as p:\n"
        "            return p.map(abs, xs)\n    except OSError:\n        pass\n    try:\n        pid = os.fork()\n"
        "        if pid == 0:\n            os._exit(0)\n    except OSError:\n        pass\n    return [x * x for x in xs]\n",
        asserts("assert squares([1, 2, 3]) == [1, 4, 9]"), True, "correct"),
    Row("socket-with-fallback", "correct", "-",
        "import socket\ndef online():\n    try:\n        socket.create_connection(('example.com', 80), timeout=1)\n        return True\n"
        "    except OSError:\n        return False\ndef add(a, b):\n    online()\n    return a + b\n", ADD_TESTS, True, "correct"),
    Row("linked-list-walk", "correct", "-",
        "class ListNode:\n    def __init__(self, val=0, next=None):\n        self.val, self.next = val, next\n"
        "def build(xs):\n    head = None\n    for x in reversed(xs):\n        head = ListNode(x, head)\n    return head\n"
        "def reverse(head):\n    prev = None\n    while head:\n        head.next, prev, head = prev, head, head.next\n    return prev\n",
        asserts("node = reverse(build([1, 2, 3]))\nout = []\nwhile node:\n    out.append(node.val)\n    node = node.next\n"
                "assert out == [3, 2, 1]\nassert reverse(None) is None\nassert build([5]).next is None"), True, "correct"),
    Row("generator-consumed-by-list", "correct", "-", "def gen(n):\n    yield from range(n)\n",
        asserts("assert list(gen(1000)) == list(range(1000))\ng = gen(3)\nassert next(g) == 0\nassert sum(gen(4)) == 6"),
        True, "correct"),
    Row("in-place-list-mutation", "correct", "-", "def rev(a):\n    a.reverse()\ndef push(a, x):\n    a.append(x)\n",
        asserts("a = [1, 2, 3]\nassert rev(a) is None\nassert a == [3, 2, 1]\npush(a, 0)\nassert a == [3, 2, 1, 0]"),
        True, "correct"),
    Row("dict-mutation", "correct", "-", "def tally(d, k):\n    d[k] = d.get(k, 0) + 1\n",
        asserts("d = {}\ntally(d, 'a')\ntally(d, 'a')\ntally(d, 'b')\nassert d == {'a': 2, 'b': 1}"), True, "correct"),
    Row("expected-exceptions", "correct", "-",
        "class NegativeError(ValueError):\n    pass\ndef root(x):\n    if x < 0:\n        raise NegativeError('negative')\n"
        "    return int(x ** 0.5)\n",
        asserts("try:\n    root(-1)\nexcept ValueError as e:\n    assert 'negative' in str(e)\nelse:\n    assert False\n"
                "assert root(9) == 3"), True, "correct"),
    Row("isinstance-candidate-class", "correct", "-",
        "class Shape:\n    pass\nclass Square(Shape):\n    def __init__(self, s):\n        self.s = s\n    def area(self):\n        return self.s ** 2\n"
        "def make(s):\n    return Square(s)\n",
        asserts("sq = make(3)\nassert isinstance(sq, Square) and isinstance(sq, Shape)\nassert sq.area() == 9\nassert not isinstance(5, Shape)"),
        True, "correct"),
    Row("big-ints", "correct", "-",
        "def fact(n):\n    r = 1\n    for i in range(2, n + 1):\n        r *= i\n    return r\n",
        asserts("import math\nassert fact(500) == math.factorial(500)\nassert fact(25) % 1000 == 0\nassert -fact(30) < 0"), True, "correct"),
    Row("float-isclose", "correct", "-", "import math\ndef area(r):\n    return math.pi * r * r\n",
        asserts("import math\nassert math.isclose(area(2), 12.566370614359172)\nassert abs(area(1) - 3.14159) < 1e-5\nassert round(area(1), 2) == 3.14"),
        True, "correct"),
    Row("leetcode-solution-class", "correct", "-",
        "from typing import List\nclass Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n"
        "            seen[x] = i\n", asserts("assert Solution().twoSum([2, 7, 11, 15], 9) == [0, 1]\ns = Solution()\nassert s.twoSum([3, 3], 6) == [0, 1]"),
        True, "correct"),
    Row("temp-file-roundtrip", "correct", "-",
        "import os, tempfile\ndef roundtrip(text):\n    with tempfile.NamedTemporaryFile('w+', delete=False) as f:\n        f.write(text)\n"
        "    with open(f.name) as g:\n        data = g.read()\n    os.unlink(f.name)\n    return data\n",
        asserts("assert roundtrip('hello') == 'hello'"), True, "correct"),
    Row("threading-pool", "correct", "-",
        "from concurrent.futures import ThreadPoolExecutor\ndef squares(xs):\n    with ThreadPoolExecutor(4) as ex:\n"
        "        return list(ex.map(lambda x: x * x, xs))\n", asserts("assert squares(range(20)) == [x * x for x in range(20)]"),
        True, "correct"),
    Row("deep-recursion", "correct", "-",
        "import sys\nsys.setrecursionlimit(10000)\ndef depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n",
        asserts("assert depth(5000) == 5000"), True, "correct"),
    Row("deque-ordereddict-defaultdict", "correct", "-",
        "from collections import deque, OrderedDict, defaultdict\ndef window(xs, k):\n    return deque(xs, maxlen=k)\n"
        "def ordered():\n    return OrderedDict([('b', 1), ('a', 2)])\ndef groups(words):\n    d = defaultdict(list)\n"
        "    for w in words:\n        d[len(w)].append(w)\n    return d\n",
        asserts("from collections import deque, OrderedDict\nassert window([1, 2, 3], 2) == deque([2, 3])\n"
                "assert list(ordered()) == ['b', 'a'] and ordered() == {'a': 2, 'b': 1}\n"
                "g = groups(['a', 'bb', 'cc'])\nassert g == {1: ['a'], 2: ['bb', 'cc']}\nassert g[7] == []"), True, "correct"),
    Row("intenum-results", "correct", "-",
        "from enum import IntEnum\nclass Color(IntEnum):\n    RED = 1\n    GREEN = 2\ndef pick(n):\n    return Color(n)\n",
        asserts("assert pick(1) == 1\nassert pick(2) == Color.GREEN\nassert pick(1) is Color.RED"), True, "correct"),
    Row("intenum-in-a-set", "correct", "-",
        "from enum import IntEnum\nclass Color(IntEnum):\n    RED = 1\n    GREEN = 2\ndef pick(n):\n    return Color(n)\n",
        asserts("assert pick(1) in {1, 2}\nassert {1: 'red'}[pick(1)] == 'red'"), True, "correct"),
    Row("stateful-object", "correct", "-",
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n        self.items.append(x)\n"
        "    def pop(self):\n        return self.items.pop()\n    def __len__(self):\n        return len(self.items)\n",
        asserts("s = Stack()\ns.push(1)\ns.push(2)\nassert len(s) == 2\nassert s.pop() == 2\nassert s.items == [1]\n"
                "s.items = [7]\nassert s.pop() == 7"), True, "correct"),
    Row("closure-returned", "correct", "-", "def make_adder(k):\n    return lambda x: x + k\n",
        asserts("add2 = make_adder(2)\nassert add2(3) == 5\nassert list(map(add2, [1, 2])) == [3, 4]"), True, "correct"),
    Row("decimal-and-complex", "correct", "-",
        "from decimal import Decimal\ndef money(a, b):\n    return Decimal(a) + Decimal(b)\ndef root():\n    return 1j ** 2\n",
        asserts("from decimal import Decimal\nassert money('0.1', '0.2') == Decimal('0.3')\nassert root() == -1"), True, "correct"),
    Row("many-calls", "correct", "-", "def sq(x):\n    return x * x\n",
        asserts("for i in range(2000):\n    assert sq(i) == i * i"), True, "correct"),
    Row("io-stdin-buffer", "correct", "-",
        "import sys\ndata = sys.stdin.buffer.read().split()\nsys.stdout.write(str(sum(map(int, data))) + '\\n')\n",
        io("6\n", "1 2\n3\n"), True, "correct"),
    Row("io-input-until-eof", "correct", "-",
        "total = 0\nwhile True:\n    try:\n        line = input()\n    except EOFError:\n        break\n    total += int(line)\nprint(total)\n",
        io("6", "1\n2\n3\n"), True, "correct"),
    Row("signal-alarm-self-timeout", "correct", "-",
        "import signal\ndef handler(s, f):\n    raise TimeoutError\nsignal.signal(signal.SIGALRM, handler)\n"
        "def add(a, b):\n    signal.alarm(1)\n    try:\n        return a + b\n    finally:\n        signal.alarm(0)\n",
        ADD_TESTS, True, "correct"),
    Row("hashable-objects-in-a-set", "correct", "-",
        "class P:\n    def __init__(self, x):\n        self.x = x\n    def __eq__(self, o):\n        return isinstance(o, P) and o.x == self.x\n"
        "    def __hash__(self):\n        return hash(self.x)\n", asserts("assert len({P(1), P(1), P(2)}) == 2"), True, "correct"),
    # Known limits of the split (README): the program's files and stdin are its own.
    Row("limit-test-writes-file-candidate-reads", "known limit", "-",
        "def count_lines(path):\n    with open(path) as f:\n        return len(f.read().splitlines())\n",
        asserts("with open('data.txt', 'w') as f:\n    f.write('a\\nb\\n')\nassert count_lines('data.txt') == 2"), False,
        "runtime_error"),
    Row("module-state-after-calls", "correct", "-",
        "CALLS = []\ndef log(x):\n    CALLS.append(x)\n",
        asserts("log(1)\nlog(2)\nassert CALLS == [1, 2]"), True, "correct"),
    Row("test-captures-printed-output", "correct", "-",
        "def greet(name):\n    print('hello', name)\n",
        asserts("import io, contextlib\nbuf = io.StringIO()\nwith contextlib.redirect_stdout(buf):\n    greet('bob')\n"
                "assert buf.getvalue() == 'hello bob\\n'"), True, "correct"),
    Row("limit-test-mocks-input", "known limit", "-",
        "def double_input():\n    return 2 * int(input())\n",
        asserts("import builtins\nbuiltins.input = lambda *a: '5'\nassert double_input() == 10"), False, "runtime_error"),
    Row("module-level-40mb-bytearray", "correct", "-",
        "SIEVE = bytearray([1]) * 40_000_000\nSIEVE[0] = SIEVE[1] = 0\ndef is_prime(n):\n"
        "    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n",
        asserts("assert is_prime(97)\nassert not is_prime(100)"), True, "correct"),
    Row("module-level-3m-list", "correct", "-",
        "TABLE = [0] * 3_000_000\ndef lookup(i):\n    return TABLE[i]\n", asserts("assert lookup(2_999_999) == 0"), True, "correct"),
    Row("module-level-cycle", "correct", "-",
        "SENTINEL = []\nSENTINEL.append(SENTINEL)\n" + GOOD_ADD, ADD_TESTS, True, "correct"),
    Row("callback-from-tests", "correct", "-",
        "def apply_all(f, xs):\n    return [f(x) for x in xs]\n",
        asserts("assert apply_all(lambda x: x * 2, [1, 2]) == [2, 4]"), True, "correct"),
    # ================================================================ red-team round (appended)
    # ------------------------------------------------------------ tolerance checks: the program object sees the expected
    # value through `-`/`/`, hands back a program object (as _arith demands), and that object's abs/pow gives data.
    Row("tolerance-sub-object-then-abs-zero", "test data leaks to the candidate", "test-semantics",
        "class Z:\n    def __sub__(self, o):\n        return self\n    def __abs__(self):\n        return 0.0\ndef area(r):\n    return Z()\n",
        AREA_TESTS, False, any_of(WA, RE)),
    Row("tolerance-rsub-object-then-abs-zero", "test data leaks to the candidate", "test-semantics",
        "class Z:\n    def __rsub__(self, o):\n        return self\n    def __abs__(self):\n        return 0\ndef area(r):\n    return Z()\n",
        asserts("assert abs(12.566370614359172 - area(2)) < 1e-6"), False, any_of(WA, RE)),
    Row("tolerance-sub-gives-float-subclass", "test data leaks to the candidate", "test-semantics",
        "class F(float):\n    pass\nclass Z:\n    def __sub__(self, o):\n        return F(0.0)\ndef area(r):\n    return Z()\n",
        AREA_TESTS, False, any_of(WA, RE)),
    Row("tolerance-relative-ratio-object", "test data leaks to the candidate", "test-semantics",
        "class Z:\n    def __truediv__(self, o):\n        return self\n    def __sub__(self, o):\n        return self\n    def __abs__(self):\n        return 0.0\n"
        "def area(r):\n    return Z()\n", asserts("assert abs(area(2) / 12.566370614359172 - 1) < 1e-9"), False, any_of(WA, RE)),
    Row("tolerance-squared-difference-object", "test data leaks to the candidate", "test-semantics",
        "class Z:\n    def __sub__(self, o):\n        return self\n    def __pow__(self, o):\n        return 0.0\ndef area(r):\n    return Z()\n",
        asserts("assert (area(2) - 12.566370614359172) ** 2 < 1e-12"), False, any_of(WA, RE)),
    # ------------------------------------------------------------ builtin shadowing when the entry point is a builtin name
    Row("builtin-entry-point-also-shadows-abs", "closures/globals injection", "test-semantics",
        "def sum(xs):\n    return 0\ndef abs(x):\n    return 0\n",
        asserts("assert abs(sum([0.1, 0.2]) - 0.3) < 1e-9\nassert abs(sum([1, 2, 3]) - 6) < 1e-9"), False, any_of(WA, RE)),
    Row("builtin-entry-point-also-shadows-set", "closures/globals injection", "test-semantics",
        "def sorted(xs):\n    return []\ndef set(x):\n    return 0\n",
        asserts("assert set(sorted([3, 1, 2])) == set([1, 2, 3])"), False, any_of(WA, RE)),
    Row("import-solution-shadows-abs", "closures/globals injection", "test-semantics",
        "def abs(x):\n    return 0\ndef area(r):\n    return 0.0\n",
        asserts("import solution\nassert abs(solution.area(2) - 12.566370614359172) < 1e-6"), False, any_of(WA, RE)),
    Row("star-import-shadows-abs", "closures/globals injection", "test-semantics",
        "def abs(x):\n    return 0\ndef area(r):\n    return 0.0\n",
        asserts("from solution import *\nassert abs(area(2) - 12.566370614359172) < 1e-6"), False, any_of(WA, RE)),
    Row("star-import-fake-math", "closures/globals injection", "test-semantics",
        "class math:\n    @staticmethod\n    def isclose(*a, **k):\n        return True\ndef area(r):\n    return 0.0\n",
        asserts("from solution import *\nassert math.isclose(area(2), 12.566370614359172)"), False, any_of(WA, RE)),
    # ------------------------------------------------------------ a builtin subclass's plain value is re-read on every use
    Row("builtin-subclass-value-changes-per-read", "lying builtin subclasses", "test-semantics",
        "class R(tuple):\n    reads = [0]\n    def __iter__(self):\n        R.reads[0] += 1\n        if R.reads[0] == 1:\n            return iter(SRC[0])\n"
        "        return iter([0, 1] * (len(SRC[0]) // 2))\nSRC = [None]\ndef rearrange(xs):\n    SRC[0] = list(xs)\n    return R(xs)\n",
        asserts("xs = [1, 1, 1, 2, 2, 2]\nr = rearrange(xs)\nassert sorted(r) == sorted(xs)\n"
                "assert all(r[i] != r[i + 1] for i in range(len(r) - 1))"), False, WA),
    # ------------------------------------------------------------ host stall: the fence regex backtracks quadratically
    # ("```" + 399k spaces takes minutes of host CPU before any sandbox; 50k spaces takes a few seconds)
    Row("fence-regex-quadratic-spaces", "size checks", "size-checks", None, ADD_TESTS, False, "no_answer",
        text=lambda: "```" + " " * 50_000 + "x"),
    # ------------------------------------------------------------ a failing candidate leaves the tests' alarm pending for the next job
    Row("alarm-left-by-failing-tests-a", "state left for the next execution", "process-split", WRONG_ADD,
        asserts("import signal\nclass Timeout(Exception):\n    pass\ndef on_alarm(*a):\n    raise Timeout('too slow')\n"
                "signal.signal(signal.SIGALRM, on_alarm)\nsignal.alarm(1)\nassert add(1, 2) == 3\nsignal.alarm(0)"),
        False, WA, group="tests-alarm-leak"),
    Row("alarm-left-by-failing-tests-b", "state left for the next execution", "process-split", WRONG_ADD,
        asserts("import signal\nclass Timeout(Exception):\n    pass\ndef on_alarm(*a):\n    raise Timeout('too slow')\n"
                "signal.signal(signal.SIGALRM, on_alarm)\nsignal.alarm(1)\nassert add(1, 2) == 3\nsignal.alarm(0)"),
        False, WA, group="tests-alarm-leak"),
    Row("correct-after-left-alarm-a", "state left for the next execution", "process-split", GOOD_ADD,
        asserts("import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1.3:\n    time.sleep(0.05)\nassert add(1, 2) == 3"),
        True, "correct", group="tests-alarm-leak"),
    Row("correct-after-left-alarm-b", "state left for the next execution", "process-split", GOOD_ADD,
        asserts("import time\nt = time.monotonic()\nwhile time.monotonic() - t < 1.3:\n    time.sleep(0.05)\nassert add(1, 2) == 3"),
        True, "correct", group="tests-alarm-leak"),
    # ------------------------------------------------------------ correct programs (false fails found in this round)
    Row("generator-partly-consumed-then-next", "correct", "-",
        "def naturals():\n    n = 0\n    while True:\n        yield n\n        n += 1\n",
        asserts("g = naturals()\nfor x in g:\n    if x == 2:\n        break\nassert next(g) == 3"), True, "correct"),
    Row("generator-raises-after-yielding", "correct", "-",
        "def checked(xs):\n    for x in xs:\n        if x < 0:\n            raise ValueError('negative')\n        yield x\n",
        asserts("out = []\ntry:\n    for x in checked([1, 2, -1, 3]):\n        out.append(x)\nexcept ValueError:\n    pass\nassert out == [1, 2]"),
        True, "correct"),
    Row("generator-prefetch-expensive-items", "correct", "-",
        "def squarings():\n    x = 2\n    while True:\n        yield x\n        x = x * x\n",
        asserts("import itertools\nassert list(itertools.islice(squarings(), 4)) == [2, 4, 16, 256]"), True, "correct"),
    Row("isinstance-generatortype", "correct", "-",
        "def fib():\n    a, b = 0, 1\n    while True:\n        yield a\n        a, b = b, a + b\n",
        asserts("import types\nassert isinstance(fib(), types.GeneratorType)"), True, "correct"),
    Row("exception-subclass-caught-as-program-base", "correct", "-",
        "class BankError(Exception):\n    pass\nclass InsufficientFunds(BankError):\n    pass\n"
        "def withdraw(bal, amt):\n    if amt > bal:\n        raise InsufficientFunds('no')\n    return bal - amt\n",
        asserts("try:\n    withdraw(1, 5)\nexcept BankError:\n    pass\nelse:\n    assert False\nassert withdraw(5, 1) == 4"), True, "correct"),
    Row("exception-instance-attributes", "correct", "-",
        "class ValidationError(ValueError):\n    def __init__(self, field):\n        super().__init__('invalid ' + field)\n        self.field = field\n"
        "def validate(d):\n    if 'age' not in d:\n        raise ValidationError('age')\n    return True\n",
        asserts("try:\n    validate({})\nexcept ValidationError as e:\n    assert e.field == 'age'\nelse:\n    assert False"), True, "correct"),
    Row("exception-custom-str", "correct", "-",
        "class Negative(Exception):\n    def __init__(self, x):\n        self.x = x\n    def __str__(self):\n        return f'negative: {self.x}'\n"
        "def root(x):\n    if x < 0:\n        raise Negative(x)\n    return x ** 0.5\n",
        asserts("try:\n    root(-4)\nexcept Negative as e:\n    assert str(e) == 'negative: -4'\nelse:\n    assert False"), True, "correct"),
    Row("type-of-instance-is-its-class", "correct", "-",
        "class Stack:\n    pass\ndef make():\n    return Stack()\n",
        asserts("assert type(make()) is Stack\nassert type(make()).__name__ == 'Stack'"), True, "correct"),
    Row("namedtuple-isinstance", "correct", "-",
        "from typing import NamedTuple\nclass Point(NamedTuple):\n    x: int\n    y: int\ndef origin():\n    return Point(0, 0)\n",
        asserts("p = origin()\nassert isinstance(p, Point)\nassert p == Point(0, 0)"), True, "correct"),
    Row("str-enum-equals-its-value", "correct", "-",
        "from enum import Enum\nclass Color(str, Enum):\n    RED = 'red'\n    GREEN = 'green'\ndef pick(n):\n    return Color.RED if n == 1 else Color.GREEN\n",
        asserts("assert pick(1) == 'red'\nassert pick(2) == Color.GREEN"), True, "correct"),
    Row("intenum-isinstance-int", "correct", "-",
        "from enum import IntEnum\nclass Level(IntEnum):\n    LOW = 1\ndef level():\n    return Level.LOW\n",
        asserts("assert isinstance(level(), int)\nassert level() == 1"), True, "correct"),
    Row("defaultdict-lambda-factory-returned", "correct", "-",
        "from collections import defaultdict\ndef count(words):\n    d = defaultdict(lambda: 0)\n    for w in words:\n        d[w] += 1\n    return d\n",
        asserts("c = count(['a', 'a'])\nassert c['a'] == 2\nassert c['zzz'] == 0"), True, "correct"),
    Row("defaultdict-lambda-factory-argument", "correct", "-",
        "def bump(d, k):\n    d[k] += 1\n    return d[k]\n",
        asserts("from collections import defaultdict\nd = defaultdict(lambda: 0)\nassert bump(d, 'x') == 1"), True, "correct"),
    Row("function-named-like-a-stdlib-module", "correct", "-",
        "def trace(m):\n    return sum(m[i][i] for i in range(len(m)))\n",
        asserts("assert trace([[1, 2], [3, 4]]) == 5"), True, "correct"),
    Row("tests-pass-a-generator", "correct", "-",
        "def total(it):\n    return sum(it)\n",
        asserts("assert total(x for x in range(4)) == 6\nassert total(iter([1, 2])) == 3\nassert total(map(int, '12')) == 3"),
        True, "correct"),
    Row("tests-pass-their-own-listnode", "correct", "-",
        "from typing import Optional\nclass ListNode:\n    def __init__(self, val=0, next=None):\n        self.val = val\n        self.next = next\n"
        "class Solution:\n    def reverseList(self, head: Optional[ListNode]) -> Optional[ListNode]:\n        prev = None\n"
        "        while head:\n            head.next, prev, head = prev, head, head.next\n        return prev\n",
        asserts("class ListNode:\n    def __init__(self, val=0, next=None):\n        self.val = val\n        self.next = next\n"
                "def list_node(xs):\n    head = None\n    for x in reversed(xs):\n        head = ListNode(x, head)\n    return head\n"
                "def to_list(node):\n    out = []\n    while node:\n        out.append(node.val)\n        node = node.next\n    return out\n"
                "assert to_list(Solution().reverseList(list_node([1, 2, 3]))) == [3, 2, 1]"), True, "correct"),
    Row("tests-pass-a-builtin-type", "correct", "-",
        "def filter_by_type(items, t):\n    return [x for x in items if isinstance(x, t)]\n",
        asserts("assert filter_by_type([1, 'a', 2.5, 3], int) == [1, 3]"), True, "correct"),
    Row("tests-call-from-threads", "correct", "-",
        "import threading\nclass Counter:\n    def __init__(self):\n        self.value = 0\n        self.lock = threading.Lock()\n"
        "    def increment(self):\n        with self.lock:\n            self.value += 1\n",
        asserts("import threading\nc = Counter()\ndef work():\n    for _ in range(200):\n        c.increment()\n"
                "ts = [threading.Thread(target=work) for _ in range(8)]\nfor t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n"
                "assert c.value == 1600"), True, "correct"),
    Row("tests-threadpool-map", "correct", "-", "def sq(x):\n    return x * x\n",
        asserts("from concurrent.futures import ThreadPoolExecutor\nwith ThreadPoolExecutor(4) as ex:\n    out = list(ex.map(sq, range(500)))\n"
                "assert out == [x * x for x in range(500)]"), True, "correct"),
    Row("unittest-testcase-main", "correct", "-", GOOD_ADD,
        asserts("import unittest\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n"
                "if __name__ == '__main__':\n    unittest.main()"), True, "correct"),
    # Test formats rather than program semantics: pytest-style functions never called, and checks that raise
    # instead of `assert` (both read "no assertion ran").
    Row("pytest-style-test-functions", "correct", "-", GOOD_ADD,
        asserts("from solution import add\ndef test_add():\n    assert add(1, 2) == 3\ndef test_neg():\n    assert add(-1, 1) == 0"),
        True, "correct"),
    Row("explicit-raise-instead-of-assert", "correct", "-", GOOD_ADD,
        asserts("if add(1, 2) != 3:\n    raise AssertionError('add(1, 2)')\nif add(2, 2) != 4:\n    raise Exception('add(2, 2)')"),
        True, "correct"),
    Row("dict-keys-view-vs-set", "correct", "-", "def keys(d):\n    return d.keys()\n",
        asserts("assert keys({'a': 1, 'b': 2}) == {'a', 'b'}"), True, "correct"),
    Row("dataclass-asdict-of-result", "correct", "-",
        "from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    y: int\ndef make():\n    return P(1, 2)\n",
        asserts("from dataclasses import asdict\nassert asdict(make()) == {'x': 1, 'y': 2}"), True, "correct"),
    Row("float-of-program-number", "correct", "-",
        "class Money:\n    def __init__(self, cents):\n        self.cents = cents\n    def __float__(self):\n        return self.cents / 100\n"
        "def make(c):\n    return Money(c)\n", asserts("assert float(make(150)) == 1.5"), True, "correct"),
    Row("attribute-list-mutated-by-tests", "correct", "-",
        "class Stack:\n    def __init__(self):\n        self.items = []\n    def pop(self):\n        return self.items.pop()\n",
        asserts("s = Stack()\ns.items.append(3)\nassert s.pop() == 3"), True, "correct"),
    Row("deepcopy-of-instance", "correct", "-",
        "class Box:\n    def __init__(self):\n        self.items = []\n    def put(self, x):\n        self.items.append(x)\n",
        asserts("import copy\nb = Box()\nb.put(1)\nc = copy.deepcopy(b)\nc.put(2)\nassert b.items == [1]"), True, "correct"),
    Row("context-manager-object", "correct", "-",
        "class Acc:\n    def __init__(self):\n        self.total = 0\n    def __enter__(self):\n        return self\n"
        "    def __exit__(self, *a):\n        return False\n    def add(self, x):\n        self.total += x\n",
        asserts("with Acc() as a:\n    a.add(2)\n    a.add(3)\nassert a.total == 5"), True, "correct"),
    Row("async-function-asyncio-run", "correct", "-",
        "import asyncio\nasync def double(x):\n    await asyncio.sleep(0)\n    return 2 * x\n",
        asserts("import asyncio\nassert asyncio.run(double(3)) == 6"), True, "correct"),
    Row("random-seeded-by-tests", "correct", "-",
        "import random\ndef rolls(n):\n    return [random.randint(1, 6) for _ in range(n)]\n",
        asserts("import random\nrandom.seed(7)\nr = rolls(20)\nrandom.seed(7)\nassert r == [random.randint(1, 6) for _ in range(20)]"),
        True, "correct"),
    Row("function-docstring", "correct", "-", "def f():\n    '''Return one.'''\n    return 1\n",
        asserts("assert f() == 1\nassert f.__doc__ == 'Return one.'"), True, "correct"),
    Row("decorator-functools-wraps-test-function", "correct", "-",
        "import functools\ndef logged(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n        return f(*a, **k)\n    return w\n",
        asserts("@logged\ndef greet(name):\n    return 'hi ' + name\nassert greet('bob') == 'hi bob'\nassert greet.__name__ == 'greet'"),
        True, "correct"),
    Row("pickle-own-class-assert", "correct", "-",
        "import pickle\nclass P:\n    def __init__(self, x):\n        self.x = x\ndef clone(x):\n    return pickle.loads(pickle.dumps(P(x))).x\n",
        asserts("assert clone(3) == 3"), True, "correct"),
    Row("pickle-own-class-io", "correct", "-",
        "import pickle\nclass P:\n    def __init__(self, x):\n        self.x = x\nprint(pickle.loads(pickle.dumps(P(int(input())))).x)\n",
        io("3\n", "3\n"), True, "correct"),
    Row("typing-get-type-hints-io", "correct", "-",
        "from __future__ import annotations\nimport typing\nfrom dataclasses import dataclass\n@dataclass\nclass Node:\n    val: int\n"
        "    nxt: typing.Optional[Node] = None\nprint(typing.get_type_hints(Node)['val'].__name__)\n", io("int\n"), True, "correct"),
    Row("threadpool-32-workers", "correct", "-",
        "import time\nfrom concurrent.futures import ThreadPoolExecutor\ndef fetch(i):\n    time.sleep(0.05)\n    return i * i\n"
        "def squares(n):\n    with ThreadPoolExecutor(max_workers=32) as ex:\n        return list(ex.map(fetch, range(n)))\n",
        asserts("assert squares(64) == [i * i for i in range(64)]"), True, "correct"),
    Row("module-level-18mb-bytes", "correct", "-",
        "TABLE = bytes(range(256)) * 70_000\ndef lookup(i):\n    return TABLE[i]\n", asserts("assert lookup(257) == 1"), True, "correct"),
    # ------------------------------------------------------------ io programs
    Row("io-fstat-fast-input", "correct", "-",
        "import os, io\ninput = io.BytesIO(os.read(0, os.fstat(0).st_size)).readline\na, b = map(int, input().split())\nprint(a + b)\n",
        io("3\n", "1 2\n"), True, "correct"),
    Row("io-os-read-whole-input", "correct", "-",
        "import os\ndata = os.read(0, 1 << 25).split()\nprint(sum(map(int, data)))\n",
        io(str(sum(range(40000))) + "\n", "\n".join(map(str, range(40000))) + "\n"), True, "correct"),
    Row("io-dev-stdin", "correct", "-", "data = open('/dev/stdin').read().split()\nprint(sum(map(int, data)))\n",
        io("3\n", "1 2\n"), True, "correct"),
    Row("io-int-over-4300-digits", "correct", "-", "n = int(input())\nprint(len(str(n * 10)))\n",
        io("5001\n", "7" * 5000 + "\n"), True, "correct"),
    Row("io-output-over-1mib", "correct", "-",
        "import sys\nsys.stdout.write('\\n'.join(str(i) for i in range(200000)) + '\\n')\n",
        io("\n".join(str(i) for i in range(200000)) + "\n"), True, "correct"),
    Row("io-stderr-debug-over-1mib", "correct", "-",
        "import sys\nfor i in range(100000):\n    print('debug', i, file=sys.stderr)\nprint(42)\n", io("42\n"), True, "correct"),
    # ------------------------------------------------------------ code extraction from real completions
    Row("fence-usage-example-last", "correct", "-",
        GOOD_ADD + "```\nExample usage:\n```python\nprint(add(1, 2))  # 3", ADD_TESTS, True, "correct"),
    Row("fence-tests-block-last", "correct", "-",
        GOOD_ADD + "```\nYou can check it with:\n```python\nassert add(1, 2) == 3\nassert add(10, 5) == 15", ADD_TESTS, True, "correct"),
    Row("fence-backticks-inside-a-string", "correct", "-",
        "def strip_fences(s):\n    return s.replace('```', '')\n" + GOOD_ADD, ADD_TESTS, True, "correct"),
    Row("fence-indented-in-a-list", "correct", "-", None, ADD_TESTS, True, "correct",
        text=lambda: "1. The code:\n\n   ```python\n   def add(a, b):\n       return a + b\n   ```\n"),
    Row("fence-crlf-line-endings", "correct", "-", None, ADD_TESTS, True, "correct",
        text=lambda: "Solution:\r\n```python\r\ndef add(a, b):\r\n    return a + b\r\n```\r\n"),
    Row("fence-info-string", "correct", "-", None, ADD_TESTS, True, "correct",
        text=lambda: '```python title="solution.py"\ndef add(a, b):\n    return a + b\n```\n'),
    Row("fence-unclosed-stop-sequence", "correct", "-", None, ADD_TESTS, True, "correct",
        text=lambda: "Here is the solution:\n```python\ndef add(a, b):\n    return a + b\n"),
]

# Known limits of the split between the program and the tests (README, "known limits"):
# correct programs that fail, with the verdict they get today. They stay rows, so a change of
# behaviour shows; none is a pass of a wrong program.
KNOWN_LIMITS = {
    "isinstance-generatortype": WA,            # a program's generator is a handle, not types.GeneratorType
    "type-of-instance-is-its-class": WA,       # type(obj) is Handle in the test process
    "namedtuple-isinstance": WA,               # a namedtuple arrives rebuilt, not as the program's class
    "intenum-isinstance-int": WA,              # an IntEnum result is a handle (its value compares as the int)
    "defaultdict-lambda-factory-returned": RE,  # only builtin default factories cross the wire
    "defaultdict-lambda-factory-argument": RE,
    "tests-pass-their-own-listnode": RE,       # the tests can pass data, iterators, program objects, functions
    "tests-pass-a-builtin-type": RE,
    "explicit-raise-instead-of-assert": WA,    # tests with no assert (or TestCase/test_*) are not graded as a pass
    "dataclass-asdict-of-result": RE,          # dataclass helpers need the instance in the test process
    "deepcopy-of-instance": RE,                # program objects are not copied into the test process
    "async-function-asyncio-run": RE,          # a coroutine is a handle, not awaitable here
    "random-seeded-by-tests": WA,              # the tests' random module is not the program's
    "io-dev-stdin": RE,                        # no /proc, so /dev/stdin does not resolve: sys.stdin works
}
ROWS = [row._replace(cls="known limit", passed=False, reason=KNOWN_LIMITS[row.id]) if row.id in KNOWN_LIMITS else row
        for row in ROWS]
# Failures whose reason depends on the machine's load: a 1 ms itimer handler doing string work
# can use up the CPU limit first; a bignum range may fail in the call or in the comparison.
LOAD_DEPENDENT = {"raw-bignum-range": any_of(RE, WA), "signal-handler-frames": any_of(WA, "timeout")}
ROWS = [row._replace(reason=LOAD_DEPENDENT[row.id]) if row.id in LOAD_DEPENDENT else row for row in ROWS]
