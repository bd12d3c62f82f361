"""The plain-data wire format: round trips keep type and value; malformed, oversized or
unknown input is refused with WireError, never executed or guessed."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "verifiers" / "sandbox"))
import wire  # noqa: E402  (stdlib-only module staged into the sandbox as a top-level module)

Point = collections.namedtuple("Point", "x y")

VALUES = [
    None, True, False, 0, -7, 2**53, -(2**200), 3**2000, 1.5, -0.0, float("inf"), 1e-300, complex(1, -2),
    "", "héllo\u2212", b"\x00\xff", bytearray(b"ab"), [1, [2, [3]]], (1, "a"), (), {1, 2}, frozenset({3}),
    {"a": 1, 2: [3], (1, 2): None}, collections.OrderedDict([("b", 1), ("a", 2)]), collections.Counter("abca"),
    collections.defaultdict(list, {"k": [1]}), collections.deque([1, 2], maxlen=5), Point(1, 2),
    fractions.Fraction(-3, 7), decimal.Decimal("1.10"), range(1, 10, 3), datetime.date(2024, 2, 29),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 6), datetime.time(23, 59), datetime.timedelta(days=-1, seconds=5),
    {"b": 1, "a": 2}.keys(), {"b": 1, "a": 2}.items(),
]


def roundtrip(value):
    return wire.decode(json.loads(json.dumps(wire.encode(value))))


@pytest.mark.parametrize("value", VALUES, ids=[f"{type(v).__name__}-{i}" for i, v in enumerate(VALUES)])
def test_roundtrip_keeps_type_and_value(value):
    back = roundtrip(value)
    assert type(back).__name__ == type(value).__name__
    assert back == value
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)
    if isinstance(value, collections.defaultdict):
        assert back.default_factory is list
    if isinstance(value, collections.deque):
        assert back.maxlen == value.maxlen


def test_nan_survives():
    assert math.isnan(roundtrip(float("nan")))


class Custom:
    pass


class LyingInt(int):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [Custom(), LyingInt(3), [Custom()], {"k": LyingInt(1)}, print])
def test_non_plain_values_need_a_handle(value):
    with pytest.raises(wire.Unencodable):
        wire.encode(value)
    handles = []
    encoded = wire.encode(value, on_other=lambda v: handles.append(v) or ["h", len(handles), "x", "object"])
    assert handles and json.dumps(encoded)


def test_caps_on_size_depth_and_ints():
    deep = []
    node = deep
    for _ in range(wire.MAX_DEPTH + 5):
        node.append([])
        node = node[0]
    with pytest.raises(wire.Unencodable):
        wire.encode(deep)
    with pytest.raises(wire.Unencodable):
        wire.Encoder(max_items=100).encode(list(range(200)))
    with pytest.raises(wire.Unencodable):
        wire.encode(1 << (4 * wire.MAX_INT_HEX + 8))


@pytest.mark.parametrize("node", [
    5, "s", [], [1], ["zz"], ["i", 1.5], ["i", "123"], ["i", "0x" + "f" * (wire.MAX_INT_HEX + 1)], ["f", 1.0],
    ["f", "x" * 50], ["s", 5], ["b", 1], ["l", "notalist"], ["S", [["l", []]]], ["d", [[["l", []], ["n"]]]],
    ["d", [["n"]]], ["nt", "class", ["a"], [["n"]]], ["nt", "P", ["_x"], [["n"]]], ["nt", "P", ["a", "a"], [["n"], ["n"]]],
    ["fr", 1, 0], ["dec", "1e999999"], ["dd", "eval", []], ["r", 1, 2, 0], ["h", 1, "x", "y"], ["cb", 0],
    ["n", 1], ["dt", "not a date"], ["td", 1.5, 0, 0], ["q", [], -1],
])
def test_malformed_input_is_refused(node):
    with pytest.raises(wire.WireError):
        wire.decode(node)


def test_framing_checks_the_size_before_reading():
    import os

    r, w = os.pipe()
    os.write(w, (wire.MAX_BYTES + 1).to_bytes(4, "little"))
    with pytest.raises(wire.WireError):
        wire.recv(r, os.read)
    os.close(r)
    os.close(w)
    r, w = os.pipe()
    wire.send(w, ["s", "ok"], os.write)
    os.close(w)
    assert wire.recv(r, os.read) == ["s", "ok"] and wire.recv(r, os.read) is None
    os.close(r)
