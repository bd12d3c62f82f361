"""Runs inside the test process's own sandbox (stdlib only): the tests, against proxies of the
candidate's names, and the verdict.

The candidate lives in another process. Its module-level names arrive as plain data or as
handles; a call sends plain-data arguments through the wire format and gets back the result,
the arguments after the call (in-place APIs) or the exception the candidate raised. Only data
crosses, decoded into builtin and stdlib types, so nothing the candidate does runs here.

Semantics, stated plainly (also in the README):
- Plain data compares as Python compares it; stdlib types (Counter, namedtuple, Fraction,
  OrderedDict, deque, Decimal) are rebuilt as the real types, so a Counter equals a dict.
- A handle compared with data (==, !=, <, <=, >, >=) is replaced by its plain value (only for
  objects of builtin subclasses); an object with no plain value is equal to no data.
- Two handles compare in the candidate process (the test compares the candidate's own objects).
- `is` / `is not` are identity here: one remote object is always the same handle.
- Truth: a plain value's truth; a candidate object without __bool__/__len__ is true (Python's
  default); a candidate-defined __bool__/__len__ is not trusted and the assertion errors.
- Float tolerance only where the test asks for it (math.isclose, abs(a - b) < eps...).
- What the program prints during a call is written to the tests' sys.stdout, so a test that
  captures it (contextlib.redirect_stdout) sees it. Files and stdin are the program's own: a
  file the tests write, or an `input` they replace, does not reach it.
- Data crosses by value: a list passed to the candidate is copied; after the call the
  candidate's version of each list/dict/set/bytearray argument is copied back in place.
- A test-side function passed to the candidate becomes a callback: the candidate's calls of it
  run here, on decoded data, while the test waits for the outer call.
- The program's exception classes become local classes of the same name (subclasses of their
  builtin base), so `except TheirError` and assertRaises(TheirError) catch what it raises.
"""

import ast
import builtins
import decimal
import json
import os
import sys
import threading
import types

import wire
from proxies import CandidateGone, Handle, ProtocolBroken, Untrusted, _get

RPC_OUT, RPC_IN, REPORT = 3, 4, 5


class Channel:
    def __init__(self):
        self.handles = {}
        self.callbacks = []  # test-side functions the candidate may call back, by index
        self.open = True  # closed at the end of its job: a late call never reaches the next job
        self.epoch = 0
        self.lock = threading.RLock()

    def request(self, message, reads=False):
        if not self.open:
            raise CandidateGone("this job is over")
        if not reads:
            self.epoch += 1  # the program may run code: cached plain values are stale
        with self.lock:  # tests may call the program from several threads
            return self._exchange(message)

    def _exchange(self, message):
        self._send(message)
        while True:
            try:
                answer = wire.recv(RPC_IN, os.read)
            except wire.WireError as exc:
                raise ProtocolBroken(str(exc)) from None
            except OSError:
                answer = None
            if answer is None:
                raise CandidateGone("the candidate process is gone")
            if type(answer) is not list or not answer or type(answer[0]) is not str:
                raise ProtocolBroken("malformed answer")
            if answer[0] == "callback":
                self._send(self._run_callback(answer))
                continue
            if answer[0] == "exc":
                raise self._remote_exception(answer)
            return answer

    def _send(self, message):
        try:
            wire.send(RPC_OUT, message, os.write)
        except (BrokenPipeError, OSError):
            raise CandidateGone("the candidate process is gone") from None

    def _run_callback(self, message):
        """The candidate calls a function the tests passed it: run it here on decoded data."""
        if len(message) != 4 or type(message[1]) is not int or not 0 <= message[1] < len(self.callbacks) \
                or type(message[2]) is not list or type(message[3]) is not list:
            raise ProtocolBroken("malformed callback")
        args = [self.decode(a) for a in message[2]]
        kwargs = {}
        for pair in message[3]:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                raise ProtocolBroken("malformed callback")
            kwargs[pair[0]] = self.decode(pair[1])
        try:
            return ["cbret", self.encode(self.callbacks[message[1]](*args, **kwargs))]
        except (CandidateGone, ProtocolBroken):
            raise
        except Exception as exc:
            return ["cbexc", [type(exc).__name__] + [k.__name__ for k in type(exc).__mro__
                                                    if getattr(builtins, k.__name__, None) is k], str(exc)[:500]]

    def decode(self, node):
        try:
            return wire.Decoder(self._handle).decode(node)
        except wire.WireError as exc:
            raise ProtocolBroken(str(exc)) from None

    def encode(self, value):
        try:
            return wire.Encoder(self._encode_other).encode(value)
        except wire.Unencodable as exc:
            raise TypeError("only plain data, candidate objects and functions can be passed to the candidate: %s"
                            % exc) from None

    def _encode_other(self, value):
        if type(value) is Handle:
            return ["h", object.__getattribute__(value, "_id"), "", ""]
        if isinstance(value, type) and value.__dict__.get("__factory_remote_id__") is not None:
            return ["h", value.__dict__["__factory_remote_id__"], "", ""]  # the program's exception class
        if hasattr(type(value), "__next__") and hasattr(type(value), "__iter__"):
            # a generator or iterator the tests pass: its items, as an iterator over there
            items = []
            for item in value:
                items.append(item)
                if len(items) > 100_000:
                    raise wire.Unencodable("an iterator of over 100,000 items")
            return ["it", [self.encode(v) for v in items]]
        if callable(value):
            self.callbacks.append(value)
            return ["cb", len(self.callbacks) - 1, str(getattr(value, "__name__", ""))[:100]]
        raise wire.Unencodable("%s is not plain data" % type(value).__name__)

    def _handle(self, args):
        if len(args) != 3 or type(args[0]) is not int or type(args[1]) is not str or type(args[2]) is not str:
            raise wire.WireError("bad handle")
        hid, kind = args[0], args[2][:220]
        known = self.handles.get(hid)
        if known is None:
            if kind.startswith("exception:"):
                _, name, base, parent = (kind.split(":") + ["", "", ""])[:4]
                parent_class = self.handles.get(int(parent)) if parent.isdigit() else None
                known = _exception_class(name, base, hid, parent_class)
            else:
                known = Handle(self, hid, args[1][:100], kind)
            self.handles[hid] = known
        return known

    def _remote_exception(self, answer):
        names = answer[1] if len(answer) > 1 and type(answer[1]) is list else []
        names = [n for n in names if type(n) is str][:50] or ["Exception"]
        message = answer[2] if len(answer) > 2 and type(answer[2]) is str else ""
        own = answer[3] if len(answer) > 3 and type(answer[3]) is int else None
        klass = self.handles.get(own) if own is not None else None
        if not (isinstance(klass, type) and issubclass(klass, BaseException)):
            base = next((n for n in names[1:] if _builtin_exception(n)), "Exception")
            exact = own is None and names[0] == base and base != "StopIteration"
            klass = getattr(builtins, base) if exact else _exception_class(names[0], base, None)
        args = (message,)
        if len(answer) > 4 and answer[4] is not None:
            decoded = self.decode(answer[4])
            args = decoded if type(decoded) is tuple else args
        try:
            exc = klass(*args)
        except Exception:
            exc = klass(message)
        exc.__factory_remote__ = True  # raised by the program, not by the tests
        if getattr(klass, "__factory_remote_id__", None) is not None:
            exc.__factory_str__ = message
            attrs = self.decode(answer[5]) if len(answer) > 5 and answer[5] is not None else {}
            for key, value in (attrs.items() if type(attrs) is dict else ()):
                if type(key) is str and key.isidentifier() and not key.startswith("_"):
                    setattr(exc, key, value)
        return exc

    def value(self, message):
        answer = self.request(message)
        if answer[0] != "ok" or len(answer) < 2:
            raise ProtocolBroken("malformed answer")
        return self.decode(answer[1])


def _builtin_exception(name):
    klass = getattr(builtins, name, None)
    return isinstance(klass, type) and issubclass(klass, BaseException)


_EXC_CACHE = {}


def _exception_class(name, base_name, remote_id, parent=None):
    """A local class for an exception the program raised: a builtin one is raised as itself's
    subclass (so `except ValueError` and assertRaises catch it); the program's own classes get
    one class each, bound to its name in the tests, so `except TheirError` catches it too."""
    base = getattr(builtins, base_name) if _builtin_exception(base_name) else Exception
    if base is StopIteration:
        base = RuntimeError  # a StopIteration escaping a call would silently end a test loop
    if isinstance(parent, type) and issubclass(parent, base):
        base = parent  # the program's own hierarchy: `except TheirBase` catches TheirSub
    key = (name, base, remote_id)
    klass = _EXC_CACHE.get(key)
    if klass is None:
        klass = _EXC_CACHE[key] = type(name if name.isidentifier() else "CandidateError", (base,),
                                       {"__factory_remote__": True, "__factory_remote_id__": remote_id,
                                        "__module__": "solution", "__str__": _remote_str})
    return klass


def _remote_str(exc):
    """str() of the program's exception as the program gave it (its own __str__ included)."""
    text = exc.__dict__.get("__factory_str__")
    return text if text is not None else BaseException.__str__(exc)


# ---------------------------------------------------------------- the tests -----------------

class _CountAsserts(ast.NodeTransformer):
    """After each assert, count it: an assert that was never reached does not count as held."""

    def __init__(self, source):
        self.source = source

    def visit_Assert(self, node):
        self.generic_visit(node)
        if node.msg is None:
            text = ast.get_source_segment(self.source, node.test) or "assertion"
            node.msg = ast.copy_location(ast.Constant(text[:300]), node)
        count = ast.parse("__factory_asserts__[0] += 1").body[0]
        return [node, ast.copy_location(count, node)]


def _namespace(channel, names, used):
    """The tests' globals (and the `solution` module they may import): the program's
    module-level names, except that
    - a builtin's name means the builtin (a program's `abs` or `sorted` does not replace the
      tests'), unless the tests use no other name of the program and exactly one
      builtin-named one: then that name is the task's entry point (MBPP asks for `sum`);
    - a standard-library module's name means this process's own import of it when the
      program bound it to a module or a class (a fake `math`); a function keeps its name;
    - dunder names are not taken at all."""
    entries = []
    for entry in names:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not str:
            raise ProtocolBroken("malformed name table")
        if not entry[0].startswith("__") and entry[0].isidentifier():
            entries.append((entry[0], channel.decode(entry[1])))
    own_used = [n for n, _ in entries if n in used and not hasattr(builtins, n)]
    builtin_used = [n for n, _ in entries if n in used and hasattr(builtins, n)]
    entry_point = builtin_used[0] if not own_used and len(builtin_used) == 1 else None
    if not own_used and not entry_point:
        # The tests would exercise no code of the program (or only builtins it shadows
        # several of, ambiguously): nothing to grade.
        raise Untrusted("the tests use none of the program's names (or several it shadows builtins with)")
    ns = {"__name__": "__main__", "__builtins__": builtins}
    solution = types.ModuleType("solution")
    for name, value in entries:
        if hasattr(builtins, name) and name != entry_point:
            continue
        if name in sys.stdlib_module_names and (type(value) is not Handle or _get(value, "_kind") != "callable"):
            try:
                value = __import__(name)  # the test process's own copy
            except ImportError:
                continue
        ns[name] = value
        setattr(solution, name, value)
    solution.__all__ = [n for n in ns if not n.startswith("__")]
    sys.modules["solution"] = solution
    return ns


def _describe(exc):
    try:
        return "%s: %s" % (type(exc).__name__, str(exc)[:500])
    except BaseException:
        return type(exc).__name__


def run(job):
    """One job's tests against the candidate on RPC_IN/RPC_OUT: (status, asserts held, detail)."""
    try:
        source = job["tests"]
        tree = ast.parse(source, "tests.py")
        used = _names_used(tree)
        tree = ast.fix_missing_locations(_CountAsserts(source).visit(tree))
        compiled = compile(tree, "tests.py", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return "bad_tests", 0, _describe(exc)
    channel = Channel()
    counter = [0]
    try:
        return _run_tests(channel, compiled, counter, used)
    finally:
        channel.open = False


def _run_tests(channel, compiled, counter, used):
    try:
        hello = wire.recv(RPC_IN, os.read)
        if hello is None:
            return "gone", 0, "the candidate did not complete before the tests"
        if type(hello) is not list or len(hello) != 3 or hello[:2] != ["hello", wire.VERSION] or type(hello[2]) is not list:
            raise ProtocolBroken("bad hello")
        ns = _namespace(channel, hello[2], used)
        ns["__factory_asserts__"] = counter
        try:
            exec(compiled, ns)
        except SystemExit as exc:  # unittest.main() ends the tests this way (not the program's)
            if exc.code not in (None, 0, False) or getattr(exc, "__factory_remote__", False):
                raise
        if not counter[0]:
            counter[0] = _run_collected_tests(ns)
    except CandidateGone as exc:
        return "gone", counter[0], str(exc)
    except (ProtocolBroken, wire.WireError) as exc:
        return "protocol", counter[0], str(exc)
    except AssertionError as exc:
        if getattr(exc, "__factory_remote__", False):
            return "candidate_error", counter[0], _describe(exc)
        return "assert", counter[0], str(exc)
    except BaseException as exc:
        status = "candidate_error" if getattr(exc, "__factory_remote__", False) else "test_error"
        return status, counter[0], _describe(exc)
    return ("pass" if counter[0] else "no_asserts"), counter[0], ""


def _run_collected_tests(ns):
    """Tests written as unittest.TestCase classes or pytest-style test_* functions, when the
    module ran no bare assert itself: run them; each that passes counts. A failure raises."""
    import unittest

    count = 0
    for name, value in list(ns.items()):
        if isinstance(value, type) and issubclass(value, unittest.TestCase) and value is not unittest.TestCase:
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(value).run(result)
            problems = result.failures + result.errors
            if problems:
                case, trace = problems[0]
                last = trace.strip().splitlines()[-1] if trace.strip() else ""
                raise AssertionError("%s: %s" % (case.id().split(".")[-1], last[:500]))
            count += result.testsRun
        elif name.startswith("test") and callable(value) and type(value) is not Handle and not isinstance(value, type):
            value()
            count += 1
    return count


def _names_used(tree):
    """Names the tests use: plain names, `solution.x` attributes and `from solution import x`
    (an over-approximation: any attribute name counts, which only keeps builtins builtin)."""
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module == "solution":
            used.update(alias.name for alias in node.names)
    return used


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _reset_signals():
    """Timers and handlers a job's tests set do not fire in the next job."""
    import faulthandler
    import signal

    signal.alarm(0)
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(timer, 0)
    faulthandler.cancel_dump_traceback_later()
    for sig, handler in _BASE_HANDLERS.items():
        if signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


_BASE_HANDLERS = {}


def serve(control_fd):
    """The test process's loop: each job arrives as four fds on the control socket (requests
    to and answers from that job's candidate, the report pipe, the tests). State a job's tests
    leave behind is reset: builtins, the `solution` module, the class caches."""
    import socket

    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != null:
            os.dup2(null, fd)
    if null > 2:
        os.close(null)
    control = socket.socket(fileno=control_fd)
    base_builtins, base_recursion = dict(builtins.__dict__), sys.getrecursionlimit()
    import signal
    for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGVTALRM,
                signal.SIGPROF, signal.SIGCHLD, signal.SIGHUP):
        _BASE_HANDLERS[sig] = signal.getsignal(sig)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 64, 4)
        except OSError:
            os._exit(0)
        if not msg or len(fds) != 4:
            os._exit(0)
        high = [os.dup(fd) for fd in fds]  # out of the way of the numbers they go to
        for fd in fds:
            os.close(fd)
        for fd, target in zip(high, (RPC_OUT, RPC_IN, REPORT)):
            os.dup2(fd, target)
            os.close(fd)
        status, asserts, detail = run(json.loads(_read_all(high[3]).decode()))
        # A thread these tests left could reach the next job: then this process retires (the
        # server replaces it), and says so in the report, before the server sends another job.
        retire = threading.active_count() > 1
        data = json.dumps({"status": status, "asserts": asserts, "detail": str(detail)[:2000],
                           "retire": retire}).encode()
        try:
            while data:
                data = data[os.write(REPORT, data):]
        except OSError:
            pass
        for fd in (RPC_OUT, RPC_IN, REPORT):
            os.close(fd)
        if retire:
            os._exit(0)
        builtins.__dict__.clear()
        builtins.__dict__.update(base_builtins)
        sys.modules.pop("solution", None)
        _EXC_CACHE.clear()
        wire._NT_CACHE.clear()
        decimal.setcontext(decimal.Context())
        _reset_signals()
        sys.setrecursionlimit(base_recursion)
        sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
        os.chdir("/tmp")
