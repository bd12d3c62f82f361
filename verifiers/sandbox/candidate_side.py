"""Runs inside the candidate's sandbox (stdlib only): the program, then a server for the calls
the test process makes through the wire format.

Nothing here is trusted. The candidate shares this process and can change any of it; all it
can gain is to choose the data it answers with, which is exactly what a program can do
anyway. Tests, expected values and the verdict live in the test process, which this process
cannot reach: it holds only its two RPC pipes (requests in, answers out) and stdio.
"""

import builtins
import operator
import os
import sys
import traceback

import wire

RPC_IN, RPC_OUT = 3, 4
MAX_HANDLES = 1_000_000

_BINARY = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor", "lshift", "rshift",
    "matmul", "getitem", "contains", "eq", "ne", "lt", "le", "gt", "ge")}
_UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert, "len": len,
          "iter": iter, "repr": repr, "str": str, "hash": hash, "reversed": reversed}
_MUTABLE = (list, dict, set, bytearray)
_CONVERT = ((bool, bool), (int, int), (float, float), (complex, complex), (str, str), (bytes, bytes),
            (bytearray, bytearray), (list, list), (tuple, tuple), (dict, dict), (frozenset, frozenset), (set, set))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _print_error(exc):
    try:
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    except BaseException:
        pass


def execute(code, name):
    """Run the program as module `name`; returns its namespace, or exits the process as
    `python file.py` would (status 1 and a traceback on an uncaught exception)."""
    namespace = {"__name__": name, "__builtins__": builtins, "__file__": "/tmp/solution.py"}
    try:
        compiled = compile(code, "solution.py", "exec")
        exec(compiled, namespace)
    except SystemExit as exc:
        _flush()
        code_ = exc.code
        os._exit(0 if code_ is None else code_ if type(code_) is int and 0 <= code_ < 256 else 1)
    except BaseException as exc:
        _print_error(exc)
        _flush()
        os._exit(1)
    _flush()
    return namespace


def run_io(job):
    execute(job["code"], "__main__")
    os._exit(0)


class Server:
    """Answers the test process. Objects that are not plain data stay here, named by handles."""

    def __init__(self):
        self.objects = {}
        self.ids = {}

    def handle(self, obj):
        key = id(obj)
        hid = self.ids.get(key)
        if hid is None:
            if len(self.objects) >= MAX_HANDLES:
                raise wire.Unencodable("too many live handles")
            hid = self.ids[key] = len(self.objects) + 1
            self.objects[hid] = obj
        return ["h", hid, type(obj).__name__, _kind(obj)]

    def encode(self, value):
        return wire.Encoder(self.handle).encode(value)

    def decode(self, node):
        return wire.Decoder(self._resolve).decode(node)

    def _resolve(self, args):
        if not args or type(args[0]) is not int or args[0] not in self.objects:
            raise wire.WireError("unknown handle")
        return self.objects[args[0]]

    def target(self, hid):
        return self._resolve([hid])

    def serve(self, namespace):
        names = [[k, self.encode(v)] for k, v in list(namespace.items()) if not k.startswith("__")]
        wire.send(RPC_OUT, ["hello", wire.VERSION, names], os.write)
        while True:
            request = wire.recv(RPC_IN, os.read)
            if request is None:
                _flush()
                os._exit(0)
            try:
                answer = self.answer(request)
            except wire.WireError:
                raise
            except BaseException as exc:  # the candidate's exception goes back to the tests
                answer = ["exc", _exception_names(exc), _short(exc)]
            try:
                wire.send(RPC_OUT, answer, os.write)
            except (wire.WireError, wire.Unencodable) as exc:
                wire.send(RPC_OUT, ["exc", ["OverflowError", "ArithmeticError", "Exception"], str(exc)], os.write)

    def answer(self, request):
        op = request[0]
        if op == "call":
            fn, args, kwargs = self.target(request[1]), [self.decode(a) for a in request[2]], \
                {k: self.decode(v) for k, v in request[3]}
            result = fn(*args, **kwargs)
            after = [[i, self.encode(a)] for i, a in enumerate(args) if type(a) in _MUTABLE]
            after += [[k, self.encode(v)] for k, v in kwargs.items() if type(v) in _MUTABLE]
            return ["ok", self.encode(result), after]
        if op == "getattr":
            return ["ok", self.encode(getattr(self.target(request[1]), request[2]))]
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
        items = []
        for _ in range(max(1, min(int(count), 4096))):
            try:
                items.append(next(iterator))
            except StopIteration:
                return ["ok", self.encode(items), True]
        return ["ok", self.encode(items), False]

    def _plain(self, obj):
        """The builtin value of an object of a builtin subclass (its items may be handles)."""
        for base, convert in _CONVERT:
            if isinstance(obj, base):
                return ["ok", self.encode(convert(obj))]
        return ["novalue"]


def _kind(obj):
    if isinstance(obj, type):
        return "class"
    if isinstance(obj, type(sys)):
        return "module:" + str(getattr(obj, "__name__", ""))[:100]
    if callable(obj):
        return "callable"
    return "object"


def _exception_names(exc):
    """The exception's class and its builtin bases, most derived first."""
    names = [type(exc).__name__[:100]]
    for klass in type(exc).__mro__[1:]:
        if getattr(builtins, klass.__name__, None) is klass:
            names.append(klass.__name__)
    return names


def _short(exc):
    try:
        return str(exc)[:500]
    except BaseException:
        return "<unprintable>"


def run_module(job):
    namespace = execute(job["code"], "solution")
    Server().serve(namespace)
