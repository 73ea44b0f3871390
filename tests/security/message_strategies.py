"""Hypothesis strategies for any protobuf request, built from its descriptor alone.

A field's *wild* values are what an attacker or a broken client sends: strings that are
empty, huge, Unicode, NUL-laden or path-like; integers at their type's bounds; floats
including NaN and the infinities; enums including numbers the schema does not define;
nested messages to a small depth; repeated fields of a few items; oneofs with any member
or none. Its *calm* values are what a correct client sends: for a string, a value that
exists on the server under test (a real run id, model name, ...), chosen by the field's
name from `Hints`; small numbers; known enum values.

A request of wild values alone stops at the first id check of nearly every RPC, so half
the requests are calm but for one field (or none) that is wild: those reach the deep
rules with one bad value, where the interesting bugs are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

MAX_DEPTH = 3
MAX_REPEATED = 4

SPECIAL_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "..",
    "../../../../etc/passwd",
    "..\\..\\windows",
    "/etc/passwd",
    "%2e%2e%2f%2e%2e%2f",
    "%252e%252e%252f",
    "a;/../b",
    "a#b?c",
    "\uff0e\uff0e/\uff0e\uff0e",
    "\u202etxt.exe",
    "\U0001f600",
    "é",
    "' OR 1=1 --",
    '"',
    "`",
    "\\",
    "%",
    "_",
    "*",
    "NaN",
    "-1",
    "0",
    "9" * 30,
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "s3://bucket/../../x",
    "runs:/",
    "models:/",
    "mlflow-artifacts:/../../x",
]
FILTER_WORDS = [
    "metrics.loss", "params.lr", "tags.t", "attributes.status", "name", "run_id",
    "experiment_id", "creation_time", "=", "!=", "<", ">=", "LIKE", "ILIKE", "IN", "NOT",
    "AND", "OR", "IS", "NULL", "(", ")", ",", "'x'", "'%'", "1", "-2.5e3", "1e999", "'",
    "`", "\x00", "ASC", "DESC",
]  # fmt: skip

_INT_BOUNDS = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def _huge() -> st.SearchStrategy[str]:
    unit = st.sampled_from(["a", "é", "/", "9", "\x00", "ab/"])
    return st.builds(lambda piece, n: (piece * n)[:n], unit, st.integers(1_000, 70_000))


def generic_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=24),
        st.text(alphabet="./\\%;#?:@ab0", max_size=24),
        _huge(),
    )


def integers(low: int, high: int) -> st.SearchStrategy[int]:
    # Small values first: they are what a valid request holds, and what shrinking seeks.
    edges = [0, 1, 2, 10, 1000, -1, low, low + 1, high - 1, high]
    return st.one_of(
        st.sampled_from([e for e in dict.fromkeys(edges) if low <= e <= high]),
        st.integers(low, high),
    )


@dataclass
class Hints:
    """Values that exist on the server, offered to string fields by their name."""

    by_name: dict[str, list[str]] = field(default_factory=dict)
    by_suffix: dict[str, list[str]] = field(default_factory=dict)

    def for_field(self, name: str) -> list[str]:
        found = list(self.by_name.get(name, []))
        for suffix, values in self.by_suffix.items():
            if name.endswith(suffix):
                found += values
        return found


Setter = Callable[[Message], None]
CALM_FILTERS = ["", "metrics.loss < 1", "params.lr = '0.1'", "name LIKE 'sec%'", "tags.t = 'x'"]


@dataclass
class _Slot:
    """One field, or one oneof, of a message: how to set it calmly or wildly (or not)."""

    calm: st.SearchStrategy[Setter | None]
    wild: st.SearchStrategy[Setter | None]


def _wild_scalar(fd: FieldDescriptor, hints: Hints) -> st.SearchStrategy[Any]:
    cpp = fd.cpp_type
    if cpp in _INT_BOUNDS:
        return integers(*_INT_BOUNDS[cpp])
    if cpp == FieldDescriptor.CPPTYPE_DOUBLE:
        return st.floats(allow_nan=True, allow_infinity=True)
    if cpp == FieldDescriptor.CPPTYPE_FLOAT:
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        assert fd.enum_type is not None
        known = [v.number for v in fd.enum_type.values]
        # Proto3 enums are open: a number the schema does not define must be handled too.
        return st.one_of(st.sampled_from(known), st.integers(-3, 1000))
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.binary(min_size=1, max_size=5000))
    if fd.name in ("filter", "filter_string"):
        words = st.lists(st.sampled_from(FILTER_WORDS), max_size=8).map(" ".join)
        return st.one_of(words, generic_text())
    choices = hints.for_field(fd.name)
    return st.one_of(st.sampled_from(choices), generic_text()) if choices else generic_text()


def _calm_scalar(fd: FieldDescriptor, hints: Hints) -> st.SearchStrategy[Any]:
    cpp = fd.cpp_type
    if cpp in _INT_BOUNDS:
        if fd.name.endswith(("time", "timestamp")):
            return st.sampled_from([0, 1_700_000_000_000])
        return st.sampled_from([0, 1, 2, 10])
    if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return st.sampled_from([0.0, 0.5, 1.0])
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return st.booleans()
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        assert fd.enum_type is not None
        return st.sampled_from([v.number for v in fd.enum_type.values])
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.sampled_from([b"", b"data"])
    if fd.name in ("filter", "filter_string"):
        return st.sampled_from(CALM_FILTERS)
    return st.sampled_from(hints.for_field(fd.name) or ["", "x", "loss"])


def _setter(fd: FieldDescriptor, value: st.SearchStrategy[Any]) -> st.SearchStrategy[Setter]:
    name = fd.name
    is_message = fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE
    if fd.is_repeated:

        def set_all(items: list[Any]) -> Setter:
            def apply(message: Message) -> None:
                target = getattr(message, name)
                for item in items:
                    if is_message:
                        target.add().CopyFrom(item)
                    else:
                        target.append(item)

            return apply

        return st.lists(value, max_size=MAX_REPEATED).map(set_all)

    def set_one(item: Any) -> Setter:
        def apply(message: Message) -> None:
            if is_message:
                getattr(message, name).CopyFrom(item)
            else:
                setattr(message, name, item)

        return apply

    return value.map(set_one)


def _field_setters(
    fd: FieldDescriptor, hints: Hints, depth: int
) -> tuple[st.SearchStrategy[Setter], st.SearchStrategy[Setter]]:
    """(calm, wild) strategies that set one field."""
    if fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
        if depth >= MAX_DEPTH:
            nothing: st.SearchStrategy[Setter] = st.just(lambda message: None)
            return nothing, nothing
        assert fd.message_type is not None
        calm = _message(fd.message_type, hints, depth + 1, wild=False)
        wild = _message(fd.message_type, hints, depth + 1, wild=True)
        return _setter(fd, calm), _setter(fd, wild)
    return _setter(fd, _calm_scalar(fd, hints)), _setter(fd, _wild_scalar(fd, hints))


def _slots(descriptor: Descriptor, hints: Hints, depth: int, lead: bool) -> list[_Slot]:
    slots: list[_Slot] = []
    for oneof in descriptor.oneofs:
        pairs = [_field_setters(fd, hints, depth) for fd in oneof.fields]
        if lead:
            # The first message of a stream: its header, wild inside perhaps, but there.
            slots.append(_Slot(pairs[0][0], pairs[0][1]))
            continue
        slots.append(
            _Slot(
                st.one_of(*(calm for calm, _ in pairs)),
                st.one_of(st.none(), *(wild for _, wild in pairs)),
            )
        )
    for fd in descriptor.fields:
        if fd.containing_oneof is not None:
            continue
        calm, wild = _field_setters(fd, hints, depth)
        # A proto3 scalar without presence is its default value when unset, which its
        # strategies draw anyway; "unset" is only a separate case for the others.
        if fd.has_presence or fd.is_repeated:
            slots.append(_Slot(st.one_of(calm, st.none()), st.one_of(st.none(), wild)))
        else:
            slots.append(_Slot(calm, wild))
    return slots


def _message(
    descriptor: Descriptor, hints: Hints, depth: int, *, wild: bool, lead: bool = False
) -> st.SearchStrategy[Message]:
    cls = GetMessageClass(descriptor)
    slots = _slots(descriptor, hints, depth, lead)

    def assemble(chosen: tuple[Setter | None, ...]) -> Message:
        message = cls()
        for apply in chosen:
            if apply is not None:
                apply(message)
        return message

    calm = st.tuples(*(slot.calm for slot in slots)).map(assemble)
    if not wild:
        return calm

    @st.composite
    def one_wild(draw: st.DrawFn) -> Message:
        wild_at = draw(st.sampled_from([-1, *range(len(slots))]))
        return assemble(
            tuple(
                draw(slot.wild if index == wild_at else slot.calm)
                for index, slot in enumerate(slots)
            )
        )

    all_wild = st.tuples(*(slot.wild for slot in slots)).map(assemble)
    return st.one_of(one_wild(), all_wild)


def message_strategy(
    descriptor: Descriptor, hints: Hints, *, lead: bool = False
) -> st.SearchStrategy[Message]:
    """Messages of `descriptor`'s type (its generated class when one is loaded): calm but
    for at most one wild field (itself perhaps a message calm but for one field), or
    wild throughout.

    With `lead`, each oneof holds its first member: the first message of a stream is
    its header (`header`, `open`, `start`), which the protos list first.
    """
    return _message(descriptor, hints, 0, wild=True, lead=lead)
