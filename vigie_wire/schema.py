"""Declarative field rules for wire records, and the generic walk that applies them.

Each wire record is a frozen dataclass whose field order *is* its positional wire layout.
Constraints live next to the field (``field(metadata=rule(...))``), so one declaration
drives construction-time validation, decoding and the documentation test. This module
knows Python values only; bytes are :mod:`vigie_wire.codec`'s business.

Forward compatibility (v1 is additive): a decoder accepts and ignores extra trailing
elements, and trailing optional fields may be absent.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, ClassVar, TypeVar

from .errors import WireError
from .limits import INT64_MIN, MAX_ID_LEN, MAX_LIST_ITEMS, MAX_MAP_ITEMS, MAX_TEXT_LEN, MAX_VALUE_DEPTH, UINT64_MAX

T = TypeVar("T", bound="Record")
R = TypeVar("R")


def _per_class(fn: Callable[[type], R]) -> Callable[[type], R]:
    """Memoise a function of a record class (what it derives never changes at run time)."""
    memo: dict[type, R] = {}

    def cached(cls: type) -> R:
        try:
            return memo[cls]
        except KeyError:
            memo[cls] = out = fn(cls)
            return out

    cached.__doc__ = fn.__doc__
    return cached

#: Identifiers used in topics: lower-case slug, no MQTT wildcard or separator can sneak in.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclasses.dataclass(frozen=True)
class Rule:
    """Constraints on one field; on a tuple field, ``lo``/``hi`` apply to its items."""

    lo: float | None = None
    hi: float | None = None
    max_len: int | None = None
    pattern: re.Pattern[str] | None = None
    min_items: int = 0
    max_items: int | None = None
    doc: str = ""


def rule(**kwargs: Any) -> dict[str, Rule]:
    """Field metadata carrying a :class:`Rule` (``field(metadata=rule(hi=255))``)."""
    return {"rule": Rule(**kwargs)}


def ident(doc: str) -> dict[str, Rule]:
    """Metadata for a topic-safe identifier field."""
    return rule(max_len=MAX_ID_LEN, pattern=ID_PATTERN, doc=doc)


class Record:
    """Base of every wire record: validates itself on construction."""

    #: Records that name themselves on the wire (event types) set a stable code.
    wire_name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for name, checker in _validators(type(self)):
            checker(getattr(self, name), name)


@_per_class
def record_fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    """The dataclass fields of ``cls`` with their resolved type hints, in wire order."""
    hints = typing.get_type_hints(cls)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls))


@_per_class
def _validators(cls: type) -> tuple[tuple[str, Checker], ...]:
    return tuple((f.name, compile_check(hint, _rule_of(f))) for f, hint in record_fields(cls))


@_per_class
def required_count(cls: type) -> int:
    """How many leading fields a payload must carry (those without a default)."""
    return sum(
        1
        for f, _ in record_fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _rule_of(f: dataclasses.Field[Any]) -> Rule:
    return typing.cast(Rule, f.metadata.get("rule", _NO_RULE))


_NO_RULE = Rule()


def _fail(path: str, message: str) -> typing.NoReturn:
    raise WireError("field", message, path)


def _is_optional(hint: Any) -> tuple[bool, Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return True, args[0]
    return False, hint


Checker = Callable[[Any, str], None]


def check(value: Any, hint: Any, r: Rule, path: str) -> None:
    """Raise :class:`WireError` unless ``value`` fits ``hint`` and rule ``r``."""
    compile_check(hint, r)(value, path)


@cache
def compile_check(hint: Any, r: Rule) -> Checker:
    """Build, once per (type, rule), the function that validates a value.

    Messages are validated on every construction, on the hot path of the link; resolving
    the type hints and rules once per field instead of per value keeps that cheap.
    """
    optional, hint = _is_optional(hint)
    inner = _compile_inner(hint, r)

    def checked(value: Any, path: str) -> None:
        if value is None:
            if optional:
                return
            _fail(path, "is required")
        inner(value, path)

    return checked


def _compile_inner(hint: Any, r: Rule) -> Checker:  # noqa: PLR0915 - one branch per wire type
    origin = typing.get_origin(hint)
    if origin is tuple:
        limit = r.max_items if r.max_items is not None else MAX_LIST_ITEMS
        (item_hint, _ellipsis) = typing.get_args(hint)
        item = compile_check(item_hint, dataclasses.replace(r, min_items=0, max_items=None))
        lo_items = r.min_items

        def check_tuple(value: Any, path: str) -> None:
            if not isinstance(value, tuple):
                _fail(path, f"expected a list, got {type(value).__name__}")
            if not lo_items <= len(value) <= limit:
                _fail(path, f"expected {lo_items}..{limit} items, got {len(value)}")
            for i, v in enumerate(value):
                item(v, f"{path}[{i}]")

        return check_tuple
    if origin is dict:
        return check_free_map
    if hint is bool:

        def check_bool(value: Any, path: str) -> None:
            if not isinstance(value, bool):
                _fail(path, f"expected a boolean, got {type(value).__name__}")

        return check_bool
    if hint is int:
        lo, hi = r.lo, r.hi

        def check_int(value: Any, path: str) -> None:
            if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
                _fail(path, f"expected an integer, got {type(value).__name__}")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                _check_range(value, r, path)

        return check_int
    if hint is float:

        def check_float(value: Any, path: str) -> None:
            if not isinstance(value, float):
                _fail(path, f"expected a number, got {type(value).__name__}")
            if not math.isfinite(value):
                _fail(path, "must be a finite number")
            _check_range(value, r, path)

        return check_float
    if hint is bytes:
        max_bytes = r.max_len if r.max_len is not None else 0

        def check_bytes(value: Any, path: str) -> None:
            if not isinstance(value, bytes):
                _fail(path, f"expected binary data, got {type(value).__name__}")
            if len(value) > max_bytes:
                _fail(path, f"larger than {max_bytes} bytes ({len(value)})")

        return check_bytes
    if hint is str:
        max_len = r.max_len if r.max_len is not None else MAX_TEXT_LEN
        pattern = r.pattern

        def check_str(value: Any, path: str) -> None:
            if not isinstance(value, str):
                _fail(path, f"expected a string, got {type(value).__name__}")
            if len(value) > max_len:
                _fail(path, f"longer than {max_len} characters ({len(value)})")
            _check_utf8(value, path)
            if pattern is not None and not pattern.fullmatch(value):
                _fail(path, f"{value!r} does not match {pattern.pattern}")

        return check_str
    if isinstance(hint, type) and issubclass(hint, Record):
        cls = hint

        def check_record(value: Any, path: str) -> None:
            if not isinstance(value, cls):
                _fail(path, f"expected {cls.__name__}, got {type(value).__name__}")

        return check_record
    raise TypeError(f"unsupported wire type {hint!r}")  # a contract bug, not input


def _check_range(value: float, r: Rule, path: str) -> None:
    if r.lo is not None and value < r.lo:
        _fail(path, f"{value} is below {r.lo}")
    if r.hi is not None and value > r.hi:
        _fail(path, f"{value} is above {r.hi}")


def _check_utf8(value: str, path: str) -> None:
    """MessagePack strings are UTF-8: a lone surrogate would fail in the encoder."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _fail(path, "is not valid Unicode text (lone surrogate)")


def check_free_map(value: Any, path: str) -> None:
    """Free-form maps (command arguments, telemetry): string keys, JSON-like bounded values."""
    _check_free(value, path, 0, top_map=True)


def _check_free(value: Any, path: str, depth: int, top_map: bool = False) -> None:
    if depth > MAX_VALUE_DEPTH:
        _fail(path, f"nested deeper than {MAX_VALUE_DEPTH} levels")
    if isinstance(value, Mapping):
        if len(value) > MAX_MAP_ITEMS:
            _fail(path, f"more than {MAX_MAP_ITEMS} entries ({len(value)})")
        for key, item in value.items():
            if not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LEN:
                _fail(path, f"keys must be strings of 1..{MAX_ID_LEN} characters, got {key!r}")
            _check_utf8(key, path)
            _check_free(item, f"{path}.{key}", depth + 1)
        return
    if top_map:
        _fail(path, f"expected a map, got {type(value).__name__}")
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST_ITEMS:
            _fail(path, f"more than {MAX_LIST_ITEMS} items ({len(value)})")
        for i, item in enumerate(value):
            _check_free(item, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, float) and not math.isfinite(value):
        _fail(path, "must be a finite number")
    if isinstance(value, str):
        if len(value) > MAX_TEXT_LEN:
            _fail(path, f"longer than {MAX_TEXT_LEN} characters")
        _check_utf8(value, path)
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= UINT64_MAX:
        _fail(path, f"integer {value} does not fit MessagePack ({INT64_MIN}..{UINT64_MAX})")
    if value is not None and not isinstance(value, (bool, int, float, str)):
        _fail(path, f"unsupported value of type {type(value).__name__}")


def to_list(record: Record) -> list[Any]:
    """Positional form of ``record``; trailing absent optionals are left out."""
    cls = type(record)
    flat = _flat_getter(cls)
    if flat is not None:  # no nested record: tuples pack as MessagePack arrays as they are
        out = list(flat(record))
    else:
        out = [_to_plain(getattr(record, f.name)) for f, _ in record_fields(cls)]
    while out and out[-1] is None and len(out) > required_count(cls):
        out.pop()
    return out


@_per_class
def _flat_getter(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """A fast field getter for records without nested records (most event types)."""
    specs = record_fields(cls)
    if len(specs) < 2 or any(_mentions_record(hint) for _, hint in specs):
        return None
    return operator.attrgetter(*(f.name for f, _ in specs))


def _mentions_record(hint: Any) -> bool:
    if isinstance(hint, type) and issubclass(hint, Record):
        return True
    return any(_mentions_record(a) for a in typing.get_args(hint))


def _to_plain(value: Any) -> Any:
    if isinstance(value, Record):
        return to_list(value)
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    return value


def from_list(cls: type[T], data: Any, path: str = "") -> T:
    """Build ``cls`` from its positional form, raising :class:`WireError` on any mismatch."""
    if not isinstance(data, list):
        raise WireError("schema", f"expected a list for {cls.__name__}", path)
    need = required_count(cls)
    if len(data) < need:
        raise WireError(
            "schema", f"{cls.__name__} needs at least {need} fields, got {len(data)}", path
        )
    kwargs = {}
    for (name, kind, hint), raw in zip(_converters(cls), data, strict=False):  # extra trailing items: ignored
        if kind == _AS_IS or raw is None:
            kwargs[name] = raw
        elif kind == _FLOAT:
            kwargs[name] = float(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        else:
            kwargs[name] = _from_plain(raw, hint, _join(path, name))
    try:
        return cls(**kwargs)
    except WireError as exc:
        raise WireError(exc.reason, exc.detail, _join(path, exc.path)) from None


# How a decoded value becomes a field value: as it is (the constructor validates it), int ->
# float, or a walk (tuples, nested records). Derived once per class: decoding a batch of a
# thousand events must not re-inspect type hints a thousand times.
_AS_IS, _FLOAT, _WALK = 0, 1, 2


def _conversion(hint: Any) -> int:
    _, hint = _is_optional(hint)
    if hint is float:
        return _FLOAT
    if typing.get_origin(hint) is tuple or (isinstance(hint, type) and issubclass(hint, Record)):
        return _WALK
    return _AS_IS


@_per_class
def _converters(cls: type) -> tuple[tuple[str, int, Any], ...]:
    return tuple((f.name, _conversion(hint), hint) for f, hint in record_fields(cls))


def _from_plain(raw: Any, hint: Any, path: str) -> Any:
    _, hint = _is_optional(hint)
    if raw is None:
        return None
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(raw, list):
            raise WireError("field", f"expected a list, got {type(raw).__name__}", path)
        (item_hint, _ellipsis) = typing.get_args(hint)
        if _conversion(item_hint) == _AS_IS:
            return tuple(raw)
        return tuple(_from_plain(v, item_hint, f"{path}[{i}]") for i, v in enumerate(raw))
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(hint, type) and issubclass(hint, Record):
        if isinstance(raw, hint):  # already decoded by the codec (event records)
            return raw
        return from_list(hint, raw, path)
    return raw


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if not name:
        return prefix
    return f"{prefix}{name}" if name.startswith("[") else f"{prefix}.{name}"
