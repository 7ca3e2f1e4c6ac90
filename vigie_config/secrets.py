"""Secrets named by a box config: read from their own files, never inlined in the YAML."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def read_password(path: Path) -> str:
    """The first line of a password file.

    Why a file: the box config is copied into tickets, repositories and install reports; a password file is
    deployed apart, readable by the service user only.

    Raises:
        ConfigError: The file is missing, unreadable, not text or empty; the message names the file, never its
            content.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text") from exc
    if not lines or not lines[0]:
        raise ConfigError(f"{path} is empty: its first line is the password")
    return lines[0]
