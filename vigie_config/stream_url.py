"""What a camera ``source`` string designates, how to check it, and how to print it without its secrets."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import parse_qs, quote, unquote, urlsplit

_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|pass|token|auth|key)=)[^&#]*")

#: Schemes a camera source may use; anything else is a config error, not a retry loop against nothing.
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "onvif"})
ONVIF_DEFAULT_PORT = 80


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


def check_source(source: str) -> str:
    """Return ``source`` if it is a usable camera source, else raise ``ValueError`` saying what is wrong.

    Why here and not at connection time: a typo in a URL (``rtps://``, a port of 5540, a space) would otherwise
    become an endless reconnection loop on a box in the street, found only by the missing counts.

    Raises:
        ValueError: A stream URL with an unknown scheme, no host, a bad port, blanks, or an ``onvif://`` address
            that is not ``onvif://user@host[:port][?profile=NAME]``.
    """
    kind, _, _ = classify(source)
    if kind is not SourceKind.STREAM:
        return source
    if any(c.isspace() for c in source):
        _fail(source, "contains blanks (percent-encode them as %20)")
    scheme = source.partition("://")[0].lower()
    if scheme not in STREAM_SCHEMES:
        _fail(source, f"unsupported scheme {scheme!r}: use rtsp://, rtsps://, http(s):// (MJPEG), "
                     "onvif://user@host, a file path or a device index")
    parts = urlsplit(source)
    try:
        port = parts.port
    except ValueError as exc:
        _fail(source, f"bad port ({exc}): a port is a number 1-65535")
    if not parts.hostname:
        _fail(source, "no host")
    if port == 0:
        _fail(source, "bad port: a port is a number 1-65535")
    if scheme == "onvif":
        parse_onvif(source)
    return source


def _fail(source: str, reason: str) -> NoReturn:
    raise ValueError(f"malformed stream URL {redact(source)!r}: {reason}")


@dataclass(frozen=True, slots=True)
class OnvifAddress:
    """Where an ONVIF camera answers and who to log in as; its password comes from the config's password file.

    Attributes:
        host: Host name or address of the camera.
        port: HTTP port of its device service (80 unless given).
        user: Account the camera knows.
        profile: Name or token of the media profile to stream; None for the first one the camera lists.
    """

    host: str
    port: int
    user: str
    profile: str | None


def parse_onvif(source: str) -> OnvifAddress:
    """Parse ``onvif://user@host[:port][?profile=NAME]``.

    Raises:
        ValueError: No user, a password in the URL (it belongs in ``password_file``), a path, or an unknown
            query parameter.
    """
    parts = urlsplit(source)
    if parts.scheme.lower() != "onvif" or not parts.hostname:
        _fail(source, "not an onvif://user@host[:port] address")
    host = parts.hostname
    if parts.password is not None:
        _fail(source, "an onvif:// address carries no password: put it in the camera's password_file")
    user = parts.username
    if not user:
        _fail(source, "an onvif:// address names its user: onvif://user@host[:port]")
    if parts.path not in ("", "/"):
        _fail(source, f"an onvif:// address has no path ({parts.path!r}); choose a profile with ?profile=NAME")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"profile"})
    if unknown:
        _fail(source, f"unknown parameter(s) {', '.join(unknown)}: only ?profile=NAME is understood")
    profile = query.get("profile", [None])[-1] or None
    return OnvifAddress(host, parts.port or ONVIF_DEFAULT_PORT, unquote(user), profile)


def url_user(source: str) -> str | None:
    """The user named in a stream URL's user-info, if any."""
    if classify(source)[0] is not SourceKind.STREAM:
        return None
    return urlsplit(source).username or None


def url_has_password(source: str) -> bool:
    """Whether a stream URL carries a password in its user-info."""
    return classify(source)[0] is SourceKind.STREAM and urlsplit(source).password is not None


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` with ``user:password@`` as its user-info (percent-encoded), replacing any it had."""
    scheme, _, rest = url.partition("://")
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    host = rest[:end].rpartition("@")[2]
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}{rest[end:]}"
