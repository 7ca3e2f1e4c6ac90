"""A camera config's source as a :class:`~.source.FrameSource`: password file, RTSP credentials, ONVIF.

The password of a camera lives in a file next to the config (as the broker's does), never in the YAML that is
copied into tickets and repositories; this module is the one place that puts it where the camera expects it: in
the RTSP URL's user-info (in memory only), or in ONVIF's WS-Security header.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from vigie_config.errors import ConfigError
from vigie_config.secrets import read_password
from vigie_config.stream_url import parse_onvif, url_user, with_credentials
from vigie_config.vision import CameraConfig

from .onvif import resolve_stream_uri
from .source import FrameSource


def stream_target(source: str, password: str | None,
                  onvif_timeout_s: float = 10.0) -> tuple[str, Callable[[], str] | None]:
    """``(url, resolve)`` for :class:`FrameSource`: the URL with its password, or an ONVIF resolver.

    Args:
        source: The config's ``source`` (validated).
        password: From the camera's ``password_file``; None when it has none.
        onvif_timeout_s: Longest wait for the camera's SOAP answers at each connection.
    """
    if source.lower().startswith("onvif://"):
        if password is None:
            raise ConfigError(f"{source}: an onvif:// source needs a password_file")
        return source, partial(resolve_stream_uri, parse_onvif(source), password, timeout_s=onvif_timeout_s)
    user = url_user(source)
    if password is not None and user is not None:
        return with_credentials(source, user, password), None
    return source, None


def open_source(config: CameraConfig, **options: Any) -> FrameSource:
    """The frame source of a camera config; ``options`` go to :class:`FrameSource` (caps, timeouts).

    Raises:
        ConfigError: The password file cannot be read.
        SourceError: A file source that cannot be used.
    """
    password = None if config.password_file is None else read_password(config.password_file)
    url, resolve = stream_target(config.source, password)
    return FrameSource(url, resolve=resolve, **options)
