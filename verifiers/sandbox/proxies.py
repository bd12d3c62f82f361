"""Proxies of the program's objects in the test process (stdlib only): handles and the rules
by which the tests may use them. test_side.py holds the channel and the tests' run; the
semantics are written down there and in the README.
"""

import operator
import os
import sys

# Mutation check only: let the candidate decide comparisons with data (the v1 hole).
_FORWARD_COMPARE = "plain_compare" in os.environ.get("FACTORY_SANDBOX_DISABLE", "")


class CandidateGone(BaseException):
    """The candidate process closed its channel or died; not catchable by `except Exception`."""


class Untrusted(AssertionError):
    """A check the test process cannot decide on data alone fails like an assertion."""


class ProtocolBroken(BaseException):
    """The candidate answered with something that is not the wire format."""


_NO_VALUE = object()


def _get(handle, name):
    return object.__getattribute__(handle, name)


_ARITH = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor", "lshift", "rshift", "matmul")}
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge}
# The operators a tolerance check applies to a result and its expected value (abs(x - e) < eps,
# abs(x / e - 1) < eps): with a program object and test data, their result must be a program
# object, or the program would see the expected value and could answer 0.
_TOLERANCE_OPS = frozenset(("add", "sub", "truediv", "floordiv", "mod"))
# Methods of builtin types that change the object: forwarded, so the program's object changes.
_MUTATORS = frozenset((
    "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update", "setdefault", "popitem",
    "add", "discard", "difference_update", "intersection_update", "symmetric_difference_update", "appendleft",
    "extendleft", "popleft", "rotate", "subtract"))


def _tainted(result, how):
    """What a tolerance operator made from a program object and test data (`obj - expected`)
    may stay a program object, marked: it can be printed, but never turned back into data
    (abs, comparisons, truth, float, len...), and what it makes is marked too."""
    if type(result) is not Handle or _get(result, "_kind") == "plain":
        raise Untrusted("%s gave data, which is not trusted" % how)
    object.__setattr__(result, "_tainted", True)
    return result


def _refuse_tainted(*values):
    for value in values:
        if type(value) is Handle and _get(value, "_tainted"):
            raise Untrusted("a value made from test data by the program's operator is not trusted as data")


def _plain_of(value):
    """A handle's plain value where it has one (else the handle itself); data as it is."""
    if type(value) is Handle and _get(value, "_kind") == "plain":
        mine = value._plain()
        return value if mine is _NO_VALUE else mine
    return value


class Handle:
    """An object that stays in the candidate process.

    A handle of kind "plain" (an instance of a builtin type or subclass: an IntEnum, a list
    subclass) is its plain value for every operation the tests make on it: comparisons,
    arithmetic, `in`, indexing, iteration, hashing and the builtin type's own non-mutating
    methods all run here on a fresh copy of that value, so overriding them in the program
    changes nothing. Other handles (instances of the program's classes) forward operations to
    the program; a forwarded operator with a test-side operand must give back a program
    object, never plain data, for the operators of tolerance checks (else `abs(obj - expected)
    < eps` would let the program see the expected value and answer 0)."""

    __slots__ = ("_ch", "_id", "_type", "_kind", "_tainted", "_cache", "__weakref__")

    def __init__(self, channel, hid, type_name, kind):
        object.__setattr__(self, "_ch", channel)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_tainted", False)  # made from test data by a tolerance operator
        object.__setattr__(self, "_cache", None)  # (epoch, plain value)

    # ----- plumbing
    def _plain(self):
        """The plain value, read once per epoch: it is read again only after a request that can
        run the program's code (a value that changes from read to read would pass checks made
        of several reads)."""
        if _get(self, "_kind") != "plain" or _get(self, "_tainted"):
            return _NO_VALUE
        ch, cache = _get(self, "_ch"), _get(self, "_cache")
        if cache is not None and cache[0] == ch.epoch:
            return cache[1]
        answer = ch.request(["value", _get(self, "_id")], reads=True)
        value = ch.decode(answer[1]) if answer[0] == "ok" else _NO_VALUE
        object.__setattr__(self, "_cache", (ch.epoch, value))
        return value

    def _forward(self, name, left, right):
        ch = _get(self, "_ch")
        return ch.value(["binary", name, ch.encode(left), ch.encode(right)])

    def _unary(self, name):
        return _get(self, "_ch").value(["unary", name, _get(self, "_id")])

    def _arith(self, name, other, reflected):
        mine = self._plain()
        if mine is not _NO_VALUE:
            theirs = _plain_of(other)
            return _ARITH[name](theirs, mine) if reflected else _ARITH[name](mine, theirs)
        result = self._forward(name, other, self) if reflected else self._forward(name, self, other)
        tolerance = name in _TOLERANCE_OPS and type(other) is not Handle
        if tolerance or _get(self, "_tainted") or (type(other) is Handle and _get(other, "_tainted")):
            return _tainted(result, "%s of a %s with test data" % (name, _get(self, "_type")))
        return result

    def _compare(self, other, name):
        if _FORWARD_COMPARE:
            return self._forward(name, self, other)
        if type(other) is Handle and _get(other, "_kind") != "plain" and _get(self, "_kind") != "plain":
            return self._forward(name, self, other)  # two program objects: the program's own rule
        _refuse_tainted(self, other)  # a value made from test data is never compared with data
        mine = self._plain()
        if mine is not _NO_VALUE:
            return _COMPARE[name](mine, _plain_of(other))
        if type(other) is Handle and _get(other, "_kind") != "plain":
            return self._forward(name, self, other)  # two program objects: the program's own rule
        return NotImplemented  # a program object without a plain value equals no data

    def _plain_or_error(self):
        _refuse_tainted(self)
        mine = self._plain()
        if mine is _NO_VALUE:
            raise TypeError("a %s has no plain value" % _get(self, "_type"))
        return mine

    # ----- attributes and calls
    def __getattr__(self, name):
        if _get(self, "_kind") == "plain" and name not in _MUTATORS and name in _BUILTIN_ATTRS:
            mine = self._plain()
            if mine is not _NO_VALUE and hasattr(type(mine), name):
                return getattr(mine, name)
        return _get(self, "_ch").value(["getattr", _get(self, "_id"), name])

    def __setattr__(self, name, value):
        ch = _get(self, "_ch")
        ch.value(["setattr", _get(self, "_id"), name, ch.encode(value)])

    def __delattr__(self, name):
        _get(self, "_ch").value(["delattr", _get(self, "_id"), name])

    def __call__(self, *args, **kwargs):
        ch = _get(self, "_ch")
        answer = ch.request(["call", _get(self, "_id"), [ch.encode(a) for a in args],
                             [[k, ch.encode(v)] for k, v in kwargs.items()]])
        if answer[0] != "ok" or len(answer) not in (3, 4) or type(answer[2]) is not list:
            raise ProtocolBroken("malformed call answer")
        printed = answer[3] if len(answer) > 3 else None
        if type(printed) is str and printed:
            sys.stdout.write(printed)  # what the program printed during the call, for redirect_stdout
        for pair in answer[2]:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolBroken("malformed argument update")
            key, new = pair[0], ch.decode(pair[1])
            old = args[key] if type(key) is int and 0 <= key < len(args) else kwargs.get(key) if type(key) is str else None
            _update_in_place(old, new)
        return ch.decode(answer[1])

    def __instancecheck__(self, obj):
        ch = _get(self, "_ch")
        return ch.value(["isinstance", ch.encode(obj), _get(self, "_id")]) is True

    # ----- comparisons, truth, hashing
    def __eq__(self, other):
        return self._compare(other, "eq")

    def __ne__(self, other):
        result = self._compare(other, "ne")
        return True if result is NotImplemented else result

    def __lt__(self, other):
        return self._compare(other, "lt")

    def __le__(self, other):
        return self._compare(other, "le")

    def __gt__(self, other):
        return self._compare(other, "gt")

    def __ge__(self, other):
        return self._compare(other, "ge")

    def __hash__(self):
        _refuse_tainted(self)
        mine = self._plain()
        if mine is not _NO_VALUE:
            return hash(mine)
        value = self._unary("hash")
        if type(value) is not int:
            raise TypeError("hash() of a candidate object returned %s" % type(value).__name__)
        return value

    def __bool__(self):
        _refuse_tainted(self)
        mine = self._plain()
        if mine is not _NO_VALUE:
            return bool(mine)
        if _get(self, "_ch").value(["truth", _get(self, "_id")]) is True:
            return True
        raise Untrusted("the truth value of a %s (a candidate-defined __bool__/__len__) is not trusted"
                        % _get(self, "_type"))

    def __contains__(self, item):
        """`x in obj` never shows the program x (the expected member): a plain value answers
        here; a program object is iterated and its items compared here, as Python does for a
        container without __contains__. A program object that cannot be iterated cannot say."""
        mine = self._plain()
        if mine is not _NO_VALUE:
            return _plain_of(item) in mine
        item = _plain_of(item)
        try:
            members = iter(self)
        except TypeError:
            raise Untrusted("`in` on a %s that cannot be iterated is not trusted" % _get(self, "_type")) from None
        return any(member is item or member == item for member in members)

    # ----- containers and iteration
    def __len__(self):
        _refuse_tainted(self)
        mine = self._plain()
        n = len(mine) if mine is not _NO_VALUE else self._unary("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of a candidate object returned %r" % type(n).__name__)
        return n

    def __getitem__(self, key):
        mine = self._plain()
        if mine is not _NO_VALUE:
            return mine[_plain_of(key)]
        return self._forward("getitem", self, key)

    def __setitem__(self, key, value):
        ch = _get(self, "_ch")
        ch.value(["setitem", _get(self, "_id"), ch.encode(key), ch.encode(value)])

    def __delitem__(self, key):
        ch = _get(self, "_ch")
        ch.value(["delitem", _get(self, "_id"), ch.encode(key)])

    def __iter__(self):
        mine = self._plain()
        if mine is not _NO_VALUE:
            return iter(mine)
        iterator = self._unary("iter")
        if type(iterator) is not Handle:
            return iter(iterator)
        return _RemoteIterator(iterator)

    def __next__(self):
        items, done = _take(self, 1)
        if not items:
            raise StopIteration
        return items[0]

    def __reversed__(self):
        mine = self._plain()
        return reversed(mine) if mine is not _NO_VALUE else iter(self._unary("reversed"))

    def __repr__(self):
        text = self._unary("repr")
        return text if type(text) is str else "<candidate %s>" % _get(self, "_type")

    def __str__(self):
        text = self._unary("str")
        return text if type(text) is str else "<candidate %s>" % _get(self, "_type")

    def _number(self, name, kind):
        """int()/float()/index of an object: its plain value, else the program's own
        conversion (it takes no test data), which must give that exact type."""
        _refuse_tainted(self)
        mine = self._plain()
        value = self._unary(name) if mine is _NO_VALUE else mine
        value = kind(value) if mine is not _NO_VALUE and name != "index" else value
        if type(value) is not kind:
            raise TypeError("%s() of a %s gave %s" % (name, _get(self, "_type"), type(value).__name__))
        return value

    def __int__(self):
        return self._number("int", int)

    def __index__(self):
        return self._number("index", int)

    def __float__(self):
        return self._number("float", float)

    def __round__(self, ndigits=None):
        return round(self._plain_or_error(), ndigits)

    def __format__(self, spec):
        mine = self._plain()
        return format(mine if mine is not _NO_VALUE else str(self), spec)

    def __enter__(self):
        return self.__getattr__("__enter__")()

    def __exit__(self, *exc_info):
        return self.__getattr__("__exit__")(None, None, None) if exc_info[0] is None else False

    def __copy__(self):
        raise TypeError("a program object cannot be copied in the test process")

    __deepcopy__ = __reduce_ex__ = lambda self, *args: Handle.__copy__(self)

    __doc__ = property(lambda self: self.__getattr__("__doc__"))

    def _unary_op(self, name, op):
        _refuse_tainted(self)
        mine = self._plain()
        return op(mine) if mine is not _NO_VALUE else self._unary(name)

    def __neg__(self):
        return self._unary_op("neg", operator.neg)

    def __pos__(self):
        return self._unary_op("pos", operator.pos)

    def __abs__(self):
        return self._unary_op("abs", abs)

    def __invert__(self):
        return self._unary_op("invert", operator.invert)


_BUILTIN_ATTRS = frozenset(name for kind in (int, str, list, dict, set, bytes, float, complex, tuple, frozenset, bytearray)
                           for name in dir(kind) if not name.startswith("__"))


def _arith_pair(name):
    def forward(self, other):
        return self._arith(name, other, False)

    def reflected(self, other):
        return self._arith(name, other, True)
    return forward, reflected


for _op in _ARITH:
    _dunder = _op.rstrip("_")
    _f, _r = _arith_pair(_op)
    setattr(Handle, "__%s__" % _dunder, _f)
    setattr(Handle, "__r%s__" % _dunder, _r)


def _take(handle, count):
    ch = _get(handle, "_ch")
    answer = ch.request(["next", _get(handle, "_id"), count])
    if answer[0] != "ok" or len(answer) != 3 or type(answer[2]) is not bool:
        raise ProtocolBroken("malformed next answer")
    items = ch.decode(answer[1])
    if type(items) is not list:
        raise ProtocolBroken("malformed next answer")
    return items, answer[2]


class _RemoteIterator:
    """Pulls a candidate iterator in batches that grow from 1 to 256 items a round trip, so a
    loop that breaks early has not consumed much more than it used (and an expensive or
    infinite generator is not run far ahead)."""

    def __init__(self, handle):
        self.handle, self.buffer, self.done, self.batch = handle, [], False, 1

    def __iter__(self):
        return self

    def __next__(self):
        if not self.buffer and not self.done:
            items, self.done = _take(self.handle, self.batch)
            self.batch = min(256, self.batch * 2)
            self.buffer = items[::-1]
        if not self.buffer:
            raise StopIteration
        return self.buffer.pop()


def _update_in_place(old, new):
    """Copy the candidate's version of a mutable argument back into the test's object."""
    if type(old) is list and type(new) is list:
        if len(old) == len(new):
            for i, (o, n) in enumerate(zip(old, new)):
                if type(o) in (list, dict) and type(o) is type(n):
                    _update_in_place(o, n)
                elif not (o is n or (type(o) is type(n) and _same(o, n))):
                    old[i] = n
        else:
            old[:] = new
    elif isinstance(old, dict) and isinstance(new, dict):
        old.clear()
        old.update(new)
    elif type(old) is set and type(new) is set:
        old.clear()
        old.update(new)
    elif type(old) is bytearray and type(new) is bytearray:
        old[:] = new


def _same(a, b):
    try:
        return a == b
    except Exception:
        return False
