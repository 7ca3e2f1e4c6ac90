"""One RTSP ``DESCRIBE``, to tell a technician *why* a camera will not stream: credentials, path or codec.

OpenCV only says that a stream did not open. The camera says more in its answer to ``DESCRIBE`` (RFC 2326
§10.2): ``401`` (credentials missing or refused), ``404`` (no stream at that path), or ``200`` with an SDP that
names the codec. Authentication is Basic or Digest (RFC 2617, as cameras implement it), chosen from the camera's
challenge. The parsing and the digest are pure functions; only :func:`describe` does I/O.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_CHALLENGE = re.compile(r'(\w+)="?([^",]*)"?')
_RTPMAP = re.compile(r"^a=rtpmap:\d+\s+([A-Za-z0-9_.-]+)/", re.MULTILINE)
_MAX_ANSWER = 256 * 1024


@dataclass(frozen=True, slots=True)
class RtspAnswer:
    """Status and headers (lower-case names, repeated ones joined by a newline) and body of an RTSP response."""

    status: int
    reason: str
    headers: dict[str, str]
    body: str


def parse_answer(raw: bytes) -> RtspAnswer:
    """Parse an RTSP response; raises ``ValueError`` when it is not one."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    match = re.match(r"RTSP/\d\.\d (\d{3}) ?(.*)", lines[0])
    if match is None:
        raise ValueError(f"not an RTSP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
    return RtspAnswer(int(match.group(1)), match.group(2), headers, body.decode("utf-8", "replace"))


def codec_of(sdp: str) -> str | None:
    """The first codec an SDP announces (``H264``, ``H265``, ``JPEG``, ``MP4V-ES``...)."""
    match = _RTPMAP.search(sdp)
    return match.group(1).upper() if match else None


def authorization(challenges: str, user: str, password: str, method: str, uri: str, cnonce: str) -> str | None:
    """The ``Authorization`` header answering the camera's ``WWW-Authenticate`` challenge(s); Digest first."""
    offered = challenges.split("\n")
    digest = next((c for c in offered if c.lower().startswith("digest")), None)
    if digest is not None:
        params = {k.lower(): v for k, v in _CHALLENGE.findall(digest[len("digest"):])}
        realm, nonce = params.get("realm", ""), params.get("nonce", "")

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # RFC 2617's own hash, not a security choice here

        ha1, ha2 = md5(f"{user}:{realm}:{password}"), md5(f"{method}:{uri}")
        fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
        if "auth" in params.get("qop", "").split(","):
            response = md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")
            return f'Digest {fields}, response="{response}", qop=auth, nc=00000001, cnonce="{cnonce}"'
        return f'Digest {fields}, response="{md5(f"{ha1}:{nonce}:{ha2}")}"'
    if any(c.lower().startswith("basic") for c in offered):
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return None


def _exchange(sock: socket.socket, request: str) -> RtspAnswer:
    sock.sendall(request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the camera closed the connection without answering")
        data += chunk
        if len(data) > _MAX_ANSWER:
            raise ValueError("answer too large")
    answer = parse_answer(data)
    length = int(answer.headers.get("content-length", "0") or 0)
    body = data.partition(b"\r\n\r\n")[2]
    while len(body) < min(length, _MAX_ANSWER):
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return RtspAnswer(answer.status, answer.reason, answer.headers, body.decode("utf-8", "replace"))


def describe(url: str, timeout_s: float) -> RtspAnswer:
    """``DESCRIBE`` ``url`` (answering an authentication challenge with its user-info, if it has one).

    Raises:
        OSError: Connection refused, unreachable, reset, or ``TimeoutError``.
        ValueError: The answer is not RTSP.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 554
    bare = url.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1)  # never send credentials in the line

    def request(cseq: int, auth: str | None) -> str:
        extra = f"Authorization: {auth}\r\n" if auth else ""
        return (f"DESCRIBE {bare} RTSP/1.0\r\nCSeq: {cseq}\r\nAccept: application/sdp\r\n"
                f"User-Agent: vigie-edge probe\r\n{extra}\r\n")

    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.settimeout(timeout_s)
        answer = _exchange(sock, request(1, None))
        if answer.status == 401 and parts.username is not None:
            auth = authorization(answer.headers.get("www-authenticate", ""), unquote(parts.username),
                                 unquote(parts.password or ""), "DESCRIBE", bare, os.urandom(8).hex())
            if auth is not None:
                answer = _exchange(sock, request(2, auth))
    return answer
