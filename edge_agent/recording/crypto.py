"""Segments at rest: AES-256-GCM in independent chunks, so a stolen disk yields nothing.

File layout (all integers big-endian)::

    magic "VGSEG\\x01" (6 bytes) | nonce prefix (8 random bytes) | chunk*
    chunk = length u32 | ciphertext+tag (length bytes)

Chunk *i* is sealed with nonce ``prefix || i`` (u32) and associated data ``magic || prefix || i || last``
(``last`` one byte, 1 on the final chunk). Why chunks rather than one seal: a segment is decrypted
on the fly while it is uploaded, without holding it twice in memory, and each chunk is
authenticated before any of its bytes are used. The index and the ``last`` flag in the associated
data make reordering, dropping or truncating chunks fail authentication, as in the STREAM
construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015). The random prefix makes nonces unique
per file under one key (2^64 prefixes, a box writes ~10^6 files in its life).

Nothing of the MP4 is left in clear: the header is this module's own magic, not ``ftyp``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import EdgeError

MAGIC = b"VGSEG\x01"
PREFIX_BYTES = 8
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
#: Plaintext bytes per chunk: small enough to stream, large enough that the 20 bytes of framing cost nothing.
CHUNK = 256 * 1024
TAG = 16
KEY_BYTES = 32


class SegmentCryptoError(EdgeError):
    """A segment file that is not ours, or was altered or truncated: its bytes are not used."""


def load_key(path: Path) -> bytes:
    """The box's recording key (32 raw bytes in a file of mode 0600)."""
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise SegmentCryptoError(f"{path}: cannot read the recording key: {exc.strerror or exc}") from exc
    if len(key) != KEY_BYTES:
        raise SegmentCryptoError(f"{path}: a recording key is {KEY_BYTES} bytes, this file has {len(key)}")
    return key


def generate_key(path: Path) -> None:
    """Write a new random key, mode 0600, refusing to replace one (segments would become unreadable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(KEY_BYTES))


def _aad(prefix: bytes, index: int, last: bool) -> bytes:
    return MAGIC + prefix + struct.pack(">IB", index, 1 if last else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def seal(key: bytes, data: bytes, chunk: int = CHUNK) -> Iterator[bytes]:
    """The encrypted file's bytes, piece by piece (header first)."""
    aes = AESGCM(key)
    prefix = os.urandom(PREFIX_BYTES)
    yield MAGIC + prefix
    count = max(1, -(-len(data) // chunk))
    view = memoryview(data)
    for i in range(count):
        piece = bytes(view[i * chunk:(i + 1) * chunk])
        sealed = aes.encrypt(_nonce(prefix, i), piece, _aad(prefix, i, i == count - 1))
        yield struct.pack(">I", len(sealed)) + sealed


def write_sealed(path: Path, key: bytes, data: bytes) -> int:
    """Encrypt ``data`` into ``path`` atomically (temporary file, fsync, rename); returns bytes on disk.

    A crash leaves either no file or a whole one: never a half-written segment under the final name.
    """
    tmp = path.with_name(path.name + ".tmp")
    size = 0
    with tmp.open("wb") as fh:
        for piece in seal(key, data):
            fh.write(piece)
            size += len(piece)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return size


def open_sealed(path: Path, key: bytes) -> Iterator[bytes]:
    """The plaintext of ``path``, chunk by chunk, each authenticated before it is yielded.

    Raises:
        SegmentCryptoError: Not a segment file, a wrong key, an altered, reordered or truncated file.
    """
    aes = AESGCM(key)
    with path.open("rb") as fh:
        header = fh.read(HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise SegmentCryptoError(f"{path}: not a Vigie segment file")
        prefix = header[len(MAGIC):]
        index = 0
        pending = _read_chunk(fh, path)
        if pending is None:
            raise SegmentCryptoError(f"{path}: truncated (no chunk)")
        while pending is not None:
            following = _read_chunk(fh, path)
            last = following is None
            try:
                yield aes.decrypt(_nonce(prefix, index), pending, _aad(prefix, index, last))
            except InvalidTag as exc:
                raise SegmentCryptoError(f"{path}: chunk {index} fails authentication (altered, truncated or "
                                         "another box's key)") from exc
            pending = following
            index += 1


def _read_chunk(fh: BinaryIO, path: Path) -> bytes | None:
    head = fh.read(4)
    if not head:
        return None
    if len(head) != 4:
        raise SegmentCryptoError(f"{path}: truncated chunk header")
    (length,) = struct.unpack(">I", head)
    if not TAG <= length <= CHUNK + TAG:
        raise SegmentCryptoError(f"{path}: chunk length {length} out of bounds")
    body = fh.read(length)
    if len(body) != length:
        raise SegmentCryptoError(f"{path}: truncated chunk")
    return body


def read_plain(path: Path, key: bytes) -> bytes:
    """The whole plaintext of a segment file."""
    return b"".join(open_sealed(path, key))
