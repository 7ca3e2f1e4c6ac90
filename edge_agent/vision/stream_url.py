"""What a camera ``source`` string designates, and how to print it without its secrets."""

from __future__ import annotations

import enum
import re
from urllib.parse import unquote, urlsplit

_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass|token|auth|key)=)[^&#]*")


class SourceKind(enum.Enum):
    FILE = "file"
    STREAM = "stream"
    DEVICE = "device"


def classify(url: str | int) -> tuple[SourceKind, str, int]:
    """Return ``(kind, target for OpenCV, device index)`` for a config's source value."""
    if isinstance(url, bool) or (isinstance(url, int) and url < 0):
        raise ValueError(f"a device index is an int >= 0, not {url!r}")
    if isinstance(url, int):
        return SourceKind.DEVICE, "", url
    if url.isascii() and url.isdigit():
        return SourceKind.DEVICE, "", int(url)
    scheme, sep, _ = url.partition("://")
    if not sep:
        return SourceKind.FILE, url, -1
    if scheme.lower() == "file":
        return SourceKind.FILE, unquote(urlsplit(url).path), -1
    return SourceKind.STREAM, url, -1


def redact(url: str) -> str:
    """Hide credentials in a URL, as user-info (``rtsp://user:pass@cam/``) or query (``?password=``).

    Health and logs leave the box; camera passwords must not.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority, tail = rest[:end], _SECRET_QUERY.sub(r"\1***", rest[end:])
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}://{authority}{tail}"
