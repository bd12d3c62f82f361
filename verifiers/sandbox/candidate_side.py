"""Runs inside the candidate's sandbox (stdlib only): the program, then a server for the calls
the test process makes through the wire format.

Nothing here is trusted. The candidate shares this process and can change any of it; all it
can gain is to choose the data it answers with, which is exactly what a program can do
anyway. Tests, expected values and the verdict live in the test process, which this process
cannot reach: it holds only its two RPC pipes (requests in, answers out) and stdio.
"""

import builtins
import io
import operator
import os
import sys
import traceback

import wire

RPC_IN, RPC_OUT = 3, 4
MAX_HANDLES = 1_000_000
NAME_ITEMS = 10_000  # a module-level value larger than this is sent as a handle
NAME_BYTES = 1 << 16

_BINARY = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor", "lshift", "rshift",
    "matmul", "getitem", "contains", "eq", "ne", "lt", "le", "gt", "ge")}
_UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert, "len": len,
          "iter": iter, "repr": repr, "str": str, "hash": hash, "reversed": reversed, "float": float, "int": int,
          "index": operator.index}
_MUTABLE = (list, dict, set, bytearray)
# The builtin value of a subclass instance, read with the builtin type's own methods (a
# `(str, Enum)` member converts to its value, not to str() of the member).
_CONVERT = ((bool, bool), (int, int.__int__), (float, float.__float__), (complex, complex),
            (str, str.__str__), (bytes, bytes), (bytearray, bytearray), (list, lambda o: list(list.__iter__(o))),
            (tuple, lambda o: tuple(tuple.__iter__(o))), (dict, lambda o: dict(dict.items(o))),
            (frozenset, lambda o: frozenset(frozenset.__iter__(o))), (set, lambda o: set(set.__iter__(o))))


def _flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass


def _print_error(exc):
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    except BaseException:
        pass


def _exit_now(status):
    _flush()
    os._exit(status)


def execute(code, name, on_exit=_exit_now):
    """Run the program as module `name`; returns its namespace, or ends the process as
    `python file.py` would (status 1 and a traceback on an uncaught exception)."""
    module = type(sys)(name)  # a real module in sys.modules: pickle and typing find its classes
    module.__file__ = "/tmp/solution.py"
    sys.modules[name] = module
    namespace = module.__dict__
    try:
        compiled = compile(code, "solution.py", "exec")
        exec(compiled, namespace)
    except SystemExit as exc:
        code_ = exc.code
        if code_ is not None and type(code_) is not int:
            try:
                sys.stderr.write(str(code_) + "\n")
            except BaseException:
                pass
        on_exit(0 if code_ is None else code_ if type(code_) is int and 0 <= code_ < 256 else 1)
    except BaseException as exc:
        _print_error(exc)
        on_exit(1)
    _flush()
    return namespace


def _interpreter_exit(status):
    """What `python file.py` does at the end: wait for non-daemon threads, run atexit
    handlers, flush. (A program's own output is all that counts for io tests.)"""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        import atexit
        atexit._run_exitfuncs()
    except BaseException as exc:
        _print_error(exc)
    _flush()
    os._exit(status)


def _install_site_builtins():
    """`exit` and `quit` come from the site module, which the sandbox's `python3 -I -S` skips."""
    def exit(code=None):
        raise SystemExit(code)
    builtins.exit = builtins.quit = exit


def run_io(job):
    _install_site_builtins()
    execute(job["code"], "__main__", on_exit=_interpreter_exit)
    _interpreter_exit(0)


class Server:
    """Answers the test process. Objects that are not plain data stay here, named by handles."""

    def __init__(self):
        self.objects = {}
        self.ids = {}
        self.pending = {}  # iterator id -> the exception it raised after yielding a batch

    def handle(self, obj):
        key = id(obj)
        hid = self.ids.get(key)
        if hid is None:
            if len(self.objects) >= MAX_HANDLES:
                raise wire.Unencodable("too many live handles")
            hid = self.ids[key] = len(self.objects) + 1
            self.objects[hid] = obj
        return ["h", hid, type(obj).__name__, self.kind(obj)]

    def kind(self, obj):
        """How the test process treats the handle (see proxies.Handle)."""
        if isinstance(obj, type):
            if issubclass(obj, BaseException):  # the tests get a local class they can catch
                parent = next((k for k in obj.__mro__[1:] if getattr(builtins, k.__name__, None) is not k), None)
                parent_id = self.handle(parent)[1] if parent is not None else ""
                return "exception:%s:%s:%s" % (obj.__name__[:100], (_builtin_bases(obj) or ["Exception"])[0], parent_id)
            return "class"
        if isinstance(obj, type(sys)):
            return "module:" + str(getattr(obj, "__name__", ""))[:100]
        if any(isinstance(obj, base) for base, _ in _CONVERT) or type(obj).__module__ == "collections":
            return "plain"  # the tests use its plain value for everything but its own methods
        if callable(obj):
            return "callable"
        return "object"

    def encode(self, value):
        return wire.Encoder(self.handle).encode(value)

    def decode(self, node):
        return wire.Decoder(self._resolve, on_callback=self.call_back).decode(node)

    def _resolve(self, args):
        if not args or type(args[0]) is not int or args[0] not in self.objects:
            raise LookupError("unknown handle")  # answered as an exception, like any failed call
        return self.objects[args[0]]

    def target(self, hid):
        return self._resolve([hid])

    def name_entry(self, value):
        """Small immutable data goes inline; mutable or large data stays here as a handle of
        kind "plain", so the tests read its current value each time they use it."""
        if type(value) in _MUTABLE or type(value).__module__ == "collections" \
                or (type(value) in (str, bytes) and len(value) > NAME_BYTES):
            return self.handle(value)
        try:
            return wire.Encoder(self.handle, max_items=NAME_ITEMS).encode(value)
        except wire.Unencodable:
            return self.handle(value)

    def serve(self, namespace):
        names = [[k, self.name_entry(v)] for k, v in list(namespace.items()) if not k.startswith("__")]
        wire.send(RPC_OUT, ["hello", wire.VERSION, names], os.write)
        while True:
            request = wire.recv(RPC_IN, os.read)
            if request is None:
                _flush()
                os._exit(0)
            self.reply(request)

    def reply(self, request):
        try:
            answer = self.answer(request)
        except wire.WireError:
            raise
        except BaseException as exc:  # the candidate's exception goes back to the tests
            answer = self.exception(exc)
        try:
            wire.send(RPC_OUT, answer, os.write)
        except (wire.WireError, wire.Unencodable) as exc:
            wire.send(RPC_OUT, ["exc", ["OverflowError", "ArithmeticError", "Exception"], str(exc), None], os.write)

    def exception(self, exc):
        klass = type(exc)
        own = None if getattr(builtins, klass.__name__, None) is klass else self.handle(klass)[1]
        try:
            args = wire.encode(tuple(exc.args))
        except (wire.Unencodable, Exception):
            args = None
        try:
            attrs = wire.Encoder(max_items=10_000).encode(
                {k: v for k, v in vars(exc).items() if isinstance(k, str) and not k.startswith("_")})
        except (wire.Unencodable, Exception):
            attrs = None
        return ["exc", [klass.__name__[:100]] + _builtin_bases(klass), _short(exc), own, args, attrs]

    def call_back(self, args):
        """A test-side function, as a callable here: calling it asks the test process."""
        if not 1 <= len(args) <= 2 or type(args[0]) is not int:
            raise wire.WireError("bad callback")
        cid = args[0]

        def callback(*a, **kw):
            wire.send(RPC_OUT, ["callback", cid, [self.encode(x) for x in a], [[k, self.encode(v)] for k, v in kw.items()]],
                      os.write)
            return self.wait_for_return()
        if len(args) == 2 and type(args[1]) is str and args[1].isidentifier():
            callback.__name__ = callback.__qualname__ = args[1]
        return callback

    def wait_for_return(self):
        """Serve the tests' requests (they may call us again) until our callback returns."""
        while True:
            message = wire.recv(RPC_IN, os.read)
            if message is None:
                _flush()
                os._exit(0)
            if message[0] == "cbret":
                return self.decode(message[1])
            if message[0] == "cbexc":
                names = [n for n in message[1] if isinstance(getattr(builtins, n, None), type)]
                klass = next((getattr(builtins, n) for n in names if issubclass(getattr(builtins, n), BaseException)),
                             Exception)
                raise klass(message[2])
            self.reply(message)

    def answer(self, request):
        op = request[0]
        if op == "call":
            fn, args, kwargs = self.target(request[1]), [self.decode(a) for a in request[2]], \
                {k: self.decode(v) for k, v in request[3]}
            with _Captured() as printed:
                result = fn(*args, **kwargs)
            after = [[i, self.encode(a)] for i, a in enumerate(args) if type(a) in _MUTABLE]
            after += [[k, self.encode(v)] for k, v in kwargs.items() if type(v) in _MUTABLE]
            return ["ok", self.encode(result), after, printed.text()]
        if op == "getattr":
            value = getattr(self.target(request[1]), request[2])
            # An attribute's list/dict/set is the object's own state: a handle, so the tests'
            # `obj.items.append(x)` changes it (its plain value is read for comparisons).
            return ["ok", self.handle(value) if type(value) in _MUTABLE else self.encode(value)]
        if op == "setattr":
            setattr(self.target(request[1]), request[2], self.decode(request[3]))
            return ["ok", ["n"]]
        if op == "delattr":
            delattr(self.target(request[1]), request[2])
            return ["ok", ["n"]]
        if op == "binary":
            fn = _BINARY[request[1]]
            return ["ok", self.encode(fn(self.decode(request[2]), self.decode(request[3])))]
        if op == "unary":
            return ["ok", self.encode(_UNARY[request[1]](self.target(request[2])))]
        if op == "setitem":
            self.target(request[1])[self.decode(request[2])] = self.decode(request[3])
            return ["ok", ["n"]]
        if op == "delitem":
            del self.target(request[1])[self.decode(request[2])]
            return ["ok", ["n"]]
        if op == "next":
            return self._take(self.target(request[1]), request[2])
        if op == "value":
            return self._plain(self.target(request[1]))
        if op == "truth":
            obj = self.target(request[1])
            custom = any(name in vars(k) for k in type(obj).__mro__[:-1] for name in ("__bool__", "__len__"))
            return ["ok", ["b", True] if not custom else ["n"]]
        if op == "isinstance":
            return ["ok", ["b", isinstance(self.decode(request[1]), self.target(request[2]))]]
        raise wire.WireError("unknown request %r" % (op,))

    def _take(self, iterator, count):
        """Up to `count` items. An exception after some items is raised at the next take, so
        the items it yielded first are not lost."""
        pending = self.pending.pop(id(iterator), None)
        if pending is not None:
            raise pending
        items = []
        for _ in range(max(1, min(int(count), 4096))):
            try:
                items.append(next(iterator))
            except StopIteration:
                return ["ok", self.encode(items), True]
            except Exception as exc:
                if not items:
                    raise
                self.pending[id(iterator)] = exc
                break
        return ["ok", self.encode(items), False]

    def _plain(self, obj):
        """The builtin value of an object of a builtin type or subclass (its items may be
        handles); stdlib containers (deque, Counter...) as themselves."""
        if type(obj).__module__ == "collections" or type(obj) in _MUTABLE:
            try:
                return ["ok", wire.Encoder(self.handle).encode(obj)]
            except wire.Unencodable:
                pass
        for base, convert in _CONVERT:
            if isinstance(obj, base):
                try:
                    return ["ok", self.encode(convert(obj))]
                except TypeError:  # it only claims to be one (a lying __class__)
                    return ["novalue"]
        return ["novalue"]


class _Captured:
    """What a call prints to sys.stdout, for the tests (capped); stdout is restored after."""

    CAP = 1 << 20

    def __enter__(self):
        self.buffer, self.saved = io.StringIO(), sys.stdout
        sys.stdout = self.buffer
        return self

    def __exit__(self, *exc):
        if sys.stdout is self.buffer:
            sys.stdout = self.saved
        return False

    def text(self):
        return self.buffer.getvalue()[: self.CAP]


def _builtin_bases(klass):
    """The builtin classes in klass's MRO (klass itself included), most derived first."""
    return [k.__name__ for k in klass.__mro__ if getattr(builtins, k.__name__, None) is k]


def _short(exc):
    try:
        return str(exc)[:500]
    except BaseException:
        return "<unprintable>"


def run_module(job):
    _install_site_builtins()
    namespace = execute(job["code"], "solution")
    Server().serve(namespace)
