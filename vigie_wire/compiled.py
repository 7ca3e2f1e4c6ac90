"""Record builders compiled once per class from its field rules: the decoder's fast path.

The generic walk of :mod:`vigie_wire.schema` (``from_list``) resolves a checker per field and
builds every record through its constructor, which validates again: for a batch of a
thousand events that is tens of microseconds per event. Here each record class gets one
function, generated from the same :class:`~vigie_wire.schema.Rule` metadata, that checks a
positional list inline and builds the frozen instance without re-validating it.

The generic walk stays the reference. A builder only *accepts*: on anything it does not
like, or cannot check itself, it raises :class:`Mismatch` and the caller runs the reference
decoder on the same data, which returns the same record or raises the reference's
:class:`~vigie_wire.errors.WireError` (same reason, path and text). So a bad payload is
refused exactly as before, and the fast path may be stricter than the reference but never
looser; the property tests check that both agree on every generated payload.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from typing import Any

from .errors import WireError
from .limits import MAX_LIST_ITEMS, MAX_TEXT_LEN
from .schema import Record, Rule, _is_optional, _rule_of, check_free_map, record_fields

Builder = Callable[[list[Any]], Any]


class Mismatch(Exception):  # noqa: N818 - a signal to the caller, not an error to report
    """The fast path declines: run the reference decoder for the verdict."""


def _utf8_ok(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _free_map_ok(value: Any) -> bool:
    try:
        check_free_map(value, "")
    except WireError:
        return False
    return True


_BUILDERS: dict[tuple[type, int, bool], Builder | None] = {}


def builder(cls: type, offset: int = 0, flat_header: bool = False) -> Builder | None:
    """The compiled builder of ``cls`` reading its fields from ``data[offset:]``, or ``None``.

    With ``flat_header`` the first field is a record read from ``data`` itself and the others
    follow it at ``data[offset + 1:]``: a message is its five header fields, then its own.

    ``None`` when the class cannot be compiled: a ``__post_init__`` of its own (extra checks
    the rules do not express, such as :class:`~vigie_wire.events.Occupancy`'s pairs), or a
    field type this module does not handle (tuples of records). Such records always go
    through the reference decoder.
    """
    key = (cls, offset, flat_header)
    try:
        return _BUILDERS[key]
    except KeyError:
        _BUILDERS[key] = out = _compile(cls, offset, flat_header)
        return out


class _Source:
    """Lines of the generated function and the names it closes over."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {"_M": Mismatch, "_new": object.__new__, "_set": object.__setattr__,
                                    "_utf8_ok": _utf8_ok, "_free_ok": _free_map_ok, "_finite": math.isfinite}

    def const(self, name: str, value: Any) -> str:
        self.env[name] = value
        return name

    def add(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _compile(cls: type, offset: int, flat_header: bool) -> Builder | None:
    if not (isinstance(cls, type) and issubclass(cls, Record) and dataclasses.is_dataclass(cls)):
        return None
    if cls.__post_init__ is not Record.__post_init__:
        return None
    src = _Source()
    src.const("_cls", cls)
    specs = record_fields(cls)
    names = [f.name for f, _ in specs]
    required = sum(1 for f, _ in specs if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    src.add(1, f"k = len(d) - {offset}")
    src.add(1, f"if k < {required}:")
    src.add(2, "raise _M")
    for i, (f, hint) in enumerate(specs):
        var = f"v{i}"
        at = f"d[{offset + i}]"
        if flat_header and i == 0:
            sub = builder(hint) if isinstance(hint, type) else None
            if sub is None or required == 0:
                return None
            src.add(1, f"{var} = {src.const('_head', sub)}(d)")
            continue
        if i < required:
            src.add(1, f"{var} = {at}")
        elif f.default is not dataclasses.MISSING:
            src.add(1, f"{var} = {at} if k > {i} else {src.const(f'_def{i}', f.default)}")
        else:
            src.add(1, f"{var} = {at} if k > {i} else {src.const(f'_fac{i}', f.default_factory)}()")
        optional, inner = _is_optional(hint)
        if optional:
            src.add(1, f"if {var} is not None:")
            ok = _field(src, 2, var, inner, _rule_of(f), i)
        else:
            ok = _field(src, 1, var, inner, _rule_of(f), i)
        if not ok:
            return None
    fields = ", ".join(f"{n!r}: v{i}" for i, n in enumerate(names))
    src.add(1, "o = _new(_cls)")
    src.add(1, f"_set(o, '__dict__', {{{fields}}})")
    src.add(1, "return o")
    text = f"def build_{cls.__name__}(d):\n" + "\n".join(src.lines) + "\n"
    exec(compile(text, f"<vigie_wire builder {cls.__name__}>", "exec"), src.env)
    return typing.cast(Builder, src.env[f"build_{cls.__name__}"])


def _field(src: _Source, ind: int, var: str, hint: Any, r: Rule, i: int) -> bool:
    """Emit the checks (and conversion) of one field; ``False`` if the type is not handled."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        item_opt, item = _is_optional(typing.get_args(hint)[0])
        if item_opt or typing.get_origin(item) is not None or (isinstance(item, type) and issubclass(item, Record)):
            return False
        limit = r.max_items if r.max_items is not None else MAX_LIST_ITEMS
        src.add(ind, f"if type({var}) is not list or not {r.min_items} <= len({var}) <= {limit}:")
        src.add(ind + 1, "raise _M")
        src.add(ind, f"for x in {var}:")
        if not _scalar(src, ind + 1, "x", item, dataclasses.replace(r, min_items=0, max_items=None), f"{i}i"):
            return False
        src.add(ind, f"{var} = tuple({var})")
        return True
    if origin is dict:
        src.add(ind, f"if not _free_ok({var}):")
        src.add(ind + 1, "raise _M")
        return True
    if isinstance(hint, type) and issubclass(hint, Record):
        sub = builder(hint)
        if sub is None:
            return False
        src.add(ind, f"{var} = {src.const(f'_sub{i}', sub)}({var}) if type({var}) is list else _fail()")
        src.env["_fail"] = _raise_mismatch
        return True
    return _scalar(src, ind, var, hint, r, str(i))


def _scalar(src: _Source, ind: int, var: str, hint: Any, r: Rule, tag: str) -> bool:
    if hint is bool:
        src.add(ind, f"if type({var}) is not bool:")
        src.add(ind + 1, "raise _M")
        return True
    if hint is int:
        cond = [f"type({var}) is not int"]
        if r.lo is not None:
            cond.append(f"{var} < {src.const(f'_lo{tag}', r.lo)}")
        if r.hi is not None:
            cond.append(f"{var} > {src.const(f'_hi{tag}', r.hi)}")
        src.add(ind, f"if {' or '.join(cond)}:")
        src.add(ind + 1, "raise _M")
        return True
    if hint is float:
        # As the reference does: an integer (not a boolean) stands for the float of its value.
        src.add(ind, f"if type({var}) is int:")
        src.add(ind + 1, f"{var} = float({var})")
        cond = [f"type({var}) is not float", f"not _finite({var})"]
        if r.lo is not None:
            cond.append(f"{var} < {src.const(f'_lo{tag}', r.lo)}")
        if r.hi is not None:
            cond.append(f"{var} > {src.const(f'_hi{tag}', r.hi)}")
        src.add(ind, f"if {' or '.join(cond)}:")
        src.add(ind + 1, "raise _M")
        return True
    if hint is str:
        max_len = r.max_len if r.max_len is not None else MAX_TEXT_LEN
        cond = [f"type({var}) is not str", f"len({var}) > {max_len}", f"(not {var}.isascii() and not _utf8_ok({var}))"]
        if r.pattern is not None:
            cond.append(f"{src.const(f'_re{tag}', r.pattern.fullmatch)}({var}) is None")
        src.add(ind, f"if {' or '.join(cond)}:")
        src.add(ind + 1, "raise _M")
        return True
    if hint is bytes:
        max_bytes = r.max_len if r.max_len is not None else 0
        src.add(ind, f"if type({var}) is not bytes or len({var}) > {max_bytes}:")
        src.add(ind + 1, "raise _M")
        return True
    return False


def _raise_mismatch() -> typing.NoReturn:
    raise Mismatch
