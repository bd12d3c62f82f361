"""The plain-data wire format between the test process and the candidate process (stdlib only).

Version 1. A message is a 4-byte little-endian length and a UTF-8 JSON body. Every value is a
JSON array whose first element is a tag, so nothing is ever guessed from the JSON type:

  ["n"] None            ["b", bool]          ["i", int | "0x.." hex for |i| >= 2**53]
  ["f", repr]  float (repr keeps nan, inf and -0.0)        ["c", re_repr, im_repr] complex
  ["s", str]            ["y", hex] bytes     ["Y", hex] bytearray
  ["l", [..]] list      ["t", [..]] tuple    ["S", [..]] set     ["F", [..]] frozenset
  ["d", [[k, v], ..]] dict                   ["od", ..] OrderedDict   ["C", ..] Counter
  ["dd", factory_name | null, [[k, v], ..]] defaultdict            ["q", [..], maxlen] deque
  ["nt", typename, [field, ..], [..]] a namedtuple                  ["fr", num, den] Fraction
  ["dec", str] Decimal  ["r", start, stop, step] range
  ["dt", iso] datetime  ["da", iso] date  ["ti", iso] time  ["td", days, seconds, us] timedelta
  ["dk", [..]] / ["dv", [..]] / ["di", [[k, v], ..]] a dict's keys / values / items view
  ["it", [..]] an iterator (test → candidate: a generator the tests pass, consumed here first)
  ["h", id, type_name, kind] a handle: an object that lives in the candidate process
  ["cb", id] (test → candidate only) a test-side function; the candidate calls it back

No pickle, no eval, no attribute lookup on decode: `decode` builds only the builtin and stdlib
types above, and refuses anything else, too deep, too many items or too large. Handles are
resolved by a callback the caller passes, so each side decides what a handle means to it.
"""

import collections
import datetime
import decimal
import fractions
import json
import keyword
import struct

VERSION = 1
MAX_BYTES = 32 << 20  # one message
MAX_ITEMS = 2_000_000  # scalars and containers in one message
MAX_DEPTH = 200
MAX_INT_HEX = 20_000  # hex digits: ~80k bits
_EXACT_INT = 2**53
_FACTORIES = {"int": int, "list": list, "set": set, "dict": dict, "str": str, "float": float,
              "tuple": tuple, "bool": bool, None: None}


class WireError(ValueError):
    """A message that breaks the format or its caps."""


class Unencodable(Exception):
    """A value that is not plain data; the encoder's caller turns it into a handle."""


# ------------------------------------------------------------------ framing -----------------

def _read_exact(fd, size, read):
    chunks, left = [], size
    while left:
        chunk = read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(fd, read, max_bytes=MAX_BYTES):
    """One message from fd (None at EOF). The size cap is checked before anything is read."""
    head = _read_exact(fd, 4, read)
    if head is None:
        return None
    size = struct.unpack("<I", head)[0]
    if size > max_bytes:
        raise WireError("message of %d bytes is over the %d-byte cap" % (size, max_bytes))
    body = _read_exact(fd, size, read)
    if body is None:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise WireError("malformed message: %s" % str(exc)[:200]) from None


def send(fd, obj, write):
    data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8")
    if len(data) > MAX_BYTES:
        raise WireError("message of %d bytes is over the %d-byte cap" % (len(data), MAX_BYTES))
    data = struct.pack("<I", len(data)) + data
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


# ------------------------------------------------------------------ encode ------------------

def _int(value):
    if -_EXACT_INT < value < _EXACT_INT:
        return ["i", value]
    text = hex(value)  # power-of-two base: not limited by int_max_str_digits
    if len(text) > MAX_INT_HEX:
        raise Unencodable("int of %d hex digits" % len(text))
    return ["i", text]


def _float(value):
    return ["f", repr(value)]


class Encoder:
    """Plain data → tagged JSON. `on_other(value)` returns the tag for a non-plain value (a
    handle) or raises Unencodable. The item budget bounds the work for any input."""

    def __init__(self, on_other=None, max_items=MAX_ITEMS):
        self.on_other = on_other
        self.left = max_items

    def encode(self, value, depth=0):
        self.left -= 1
        if self.left < 0 or depth > MAX_DEPTH:
            raise Unencodable("value over the size or depth cap")
        t = type(value)
        if value is None:
            return ["n"]
        if t is bool:
            return ["b", value]
        if t is int:
            return _int(value)
        if t is float:
            return _float(value)
        if t is str:
            return ["s", value]
        if t is complex:
            return ["c", repr(value.real), repr(value.imag)]
        if t is bytes:
            return ["y", value.hex()]
        if t is bytearray:
            return ["Y", bytes(value).hex()]
        seq_tag = _SEQ_TAGS.get(t)
        if seq_tag is not None:
            return [seq_tag, [self.encode(v, depth + 1) for v in list(value)]]
        map_tag = _MAP_TAGS.get(t)
        if map_tag is not None:
            return [map_tag, self._items(value, depth)]
        if t is collections.defaultdict:
            name = getattr(value.default_factory, "__name__", None)
            return ["dd", name if value.default_factory in _FACTORIES.values() else None, self._items(value, depth)]
        if t is collections.deque:
            return ["q", [self.encode(v, depth + 1) for v in list(value)], value.maxlen]
        if t is fractions.Fraction:
            return ["fr", _int(value.numerator)[1], _int(value.denominator)[1]]
        if t is decimal.Decimal:
            return ["dec", str(value)]
        if t is range:
            return ["r", value.start, value.stop, value.step]
        view = _VIEW_TAGS.get(t)
        if view == "di":
            return ["di", [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in list(value)]]
        if view is not None:
            return [view, [self.encode(v, depth + 1) for v in list(value)]]
        if t in _DATETIME_TAGS:
            return [_DATETIME_TAGS[t], value.isoformat()]
        if t is datetime.timedelta:
            return ["td", value.days, value.seconds, value.microseconds]
        if _is_namedtuple(t):
            return ["nt", t.__name__, list(t._fields), [self.encode(v, depth + 1) for v in tuple.__iter__(value)]]
        if self.on_other is None:
            raise Unencodable("%s is not plain data" % t.__name__)
        return self.on_other(value)

    def _items(self, mapping, depth):
        return [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in list(dict.items(mapping))]


_SEQ_TAGS = {list: "l", tuple: "t", set: "S", frozenset: "F"}
_DATETIME_TAGS = {datetime.datetime: "dt", datetime.date: "da", datetime.time: "ti"}
_VIEW_TAGS = {type({}.keys()): "dk", type({}.values()): "dv", type({}.items()): "di"}
_MAP_TAGS = {dict: "d", collections.OrderedDict: "od", collections.Counter: "C"}


def _is_namedtuple(t):
    """A class made by collections.namedtuple (its own methods are tuple's, not overridden)."""
    return (tuple in t.__bases__ and len(t.__mro__) == 3 and isinstance(t.__dict__.get("_fields"), tuple)
            and "__eq__" not in t.__dict__ and "__hash__" not in t.__dict__)


# ------------------------------------------------------------------ decode ------------------

_NT_CACHE = {}


def _namedtuple(name, fields):
    if (not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name)
            or not isinstance(fields, list) or len(fields) > 255
            or not all(isinstance(f, str) and f.isidentifier() and not keyword.iskeyword(f)
                       and not f.startswith("_") for f in fields)
            or len(set(fields)) != len(fields)):
        raise WireError("bad namedtuple %r" % (name,))
    key = (name, tuple(fields))
    cls = _NT_CACHE.get(key)
    if cls is None:
        cls = _NT_CACHE[key] = collections.namedtuple(name, fields)
    return cls


def _dec_int(raw):
    if type(raw) is int and -_EXACT_INT < raw < _EXACT_INT:
        return raw
    if type(raw) is str and len(raw) <= MAX_INT_HEX and raw.lstrip("-")[:2] == "0x":
        try:
            return int(raw, 16)
        except ValueError:
            pass
    raise WireError("bad int")


def _dec_float(raw):
    if type(raw) is not str or len(raw) > 40:
        raise WireError("bad float")
    try:
        return float(raw)
    except ValueError:
        raise WireError("bad float") from None


class Decoder:
    """Tagged JSON → plain data. `on_handle(args)` maps a handle tag to an object (or raises);
    `on_callback(args)` does the same for a callback tag."""

    def __init__(self, on_handle=None, max_items=MAX_ITEMS, on_callback=None):
        self.on_handle, self.on_callback = on_handle, on_callback
        self.left = max_items

    def decode(self, node, depth=0):
        self.left -= 1
        if self.left < 0 or depth > MAX_DEPTH:
            raise WireError("value over the size or depth cap")
        if type(node) is not list or not node or type(node[0]) is not str:
            raise WireError("untagged value")
        tag, args = node[0], node[1:]
        fn = _SCALARS.get(tag)
        if fn is not None:
            return fn(args)
        if tag in ("l", "t", "S", "F"):
            items = [self.decode(v, depth + 1) for v in self._list(args, 1)[0]]
            try:
                return _SEQ_TYPES[tag](items)
            except TypeError:
                raise WireError("unhashable set item") from None
        if tag in ("d", "od", "C"):
            return _MAP_TYPES[tag](self._pairs(self._list(args, 1)[0], depth))
        if tag == "dd":
            name, pairs = self._exact(args, 2)
            if name not in _FACTORIES:
                raise WireError("bad defaultdict factory")
            return collections.defaultdict(_FACTORIES[name], self._pairs(pairs, depth))
        if tag in ("dk", "dv", "it"):
            items = [self.decode(v, depth + 1) for v in self._list(args, 1)[0]]
            if tag == "it":
                return iter(items)
            if tag == "dv":
                return dict(enumerate(items)).values()
            try:
                return dict.fromkeys(items).keys()
            except TypeError:
                raise WireError("unhashable key") from None
        if tag == "di":
            return dict(self._pairs(self._list(args, 1)[0], depth)).items()
        if tag == "q":
            items, maxlen = self._exact(args, 2)
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise WireError("bad deque maxlen")
            return collections.deque([self.decode(v, depth + 1) for v in self._list([items], 1)[0]], maxlen)
        if tag == "nt":
            name, fields, items = self._exact(args, 3)
            cls = _namedtuple(name, fields)
            values = [self.decode(v, depth + 1) for v in self._list([items], 1)[0]]
            if len(values) != len(fields):
                raise WireError("namedtuple arity")
            return cls(*values)
        if tag == "h" and self.on_handle is not None:
            return self.on_handle(args)
        if tag == "cb" and self.on_callback is not None:
            return self.on_callback(args)
        raise WireError("unknown tag %r" % tag[:20])

    @staticmethod
    def _exact(args, n):
        if len(args) != n:
            raise WireError("wrong arity")
        return args

    @staticmethod
    def _list(args, n):
        if len(args) != n or type(args[0]) is not list:
            raise WireError("expected a list")
        return args

    def _pairs(self, pairs, depth):
        if type(pairs) is not list:
            raise WireError("expected pairs")
        out = []
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("bad pair")
            out.append((self.decode(pair[0], depth + 1), self.decode(pair[1], depth + 1)))
        for key, _ in out:
            try:
                hash(key)
            except TypeError:
                raise WireError("unhashable dict key") from None
        return out


def _one(args):
    if len(args) != 1:
        raise WireError("wrong arity")
    return args[0]


def _none(args):
    if args:
        raise WireError("wrong arity")
    return None


def _typed(kind, args):
    value = _one(args)
    if type(value) is not kind:
        raise WireError("expected %s" % kind.__name__)
    return value


def _bytes(args):
    text = _typed(str, args)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise WireError("bad bytes") from None


def _fraction(args):
    if len(args) != 2:
        raise WireError("wrong arity")
    num, den = _dec_int(args[0]), _dec_int(args[1])
    if den == 0:
        raise WireError("zero denominator")
    return fractions.Fraction(num, den)


def _decimal(args):
    text = _typed(str, args)
    if len(text) > 4000:
        raise WireError("decimal too long")
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise WireError("bad decimal") from None
    if value.is_finite() and abs(value.adjusted()) > 100_000:
        raise WireError("decimal exponent over the cap")
    return value


def _range(args):
    if len(args) != 3 or not all(type(a) is int for a in args) or args[2] == 0:
        raise WireError("bad range")
    return range(*args)


def _iso(kind):
    def parse(args):
        text = _typed(str, args)
        if len(text) > 64:
            raise WireError("bad %s" % kind.__name__)
        try:
            return kind.fromisoformat(text)
        except ValueError:
            raise WireError("bad %s" % kind.__name__) from None
    return parse


def _timedelta(args):
    if len(args) != 3 or not all(type(a) is int for a in args):
        raise WireError("bad timedelta")
    try:
        return datetime.timedelta(days=args[0], seconds=args[1], microseconds=args[2])
    except OverflowError:
        raise WireError("bad timedelta") from None


def _complex(args):
    if len(args) != 2:
        raise WireError("wrong arity")
    return complex(_dec_float(args[0]), _dec_float(args[1]))


_SCALARS = {
    "n": lambda args: _none(args),
    "b": lambda args: _typed(bool, args),
    "i": lambda args: _dec_int(_one(args)),
    "f": lambda args: _dec_float(_one(args)),
    "c": _complex,
    "s": lambda args: _typed(str, args),
    "y": _bytes,
    "Y": lambda args: bytearray(_bytes(args)),
    "fr": _fraction,
    "dec": _decimal,
    "r": _range,
    "dt": _iso(datetime.datetime),
    "da": _iso(datetime.date),
    "ti": _iso(datetime.time),
    "td": _timedelta,
}
_SEQ_TYPES = {"l": list, "t": tuple, "S": set, "F": frozenset}
_MAP_TYPES = {"d": dict, "od": collections.OrderedDict, "C": lambda pairs: collections.Counter(dict(pairs))}


def encode(value, on_other=None):
    return Encoder(on_other).encode(value)


def decode(node, on_handle=None):
    return Decoder(on_handle).decode(node)
