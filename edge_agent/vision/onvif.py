"""Resolve an ONVIF Profile S camera's RTSP address: ``GetProfiles`` then ``GetStreamUri``, over SOAP.

Installers know a camera by its address and account; the RTSP path differs per maker and firmware
(``/Streaming/Channels/101``, ``/axis-media/media.amp``, ``/cam/realmonitor?channel=1&subtype=0``...). ONVIF
asks the camera itself, so a box config can name ``onvif://user@host`` and survive a firmware change of path.

The SOAP work is done by ``onvif-zeep-async`` (WS-Security UsernameToken with password digest, the camera's own
service addresses from ``GetServices``). It is asyncio; a camera process has no loop of its own, so
:func:`resolve_stream_uri` runs one per call, which happens only at each (re)connection.

The camera answers with a URI that usually carries no credentials, while its RTSP server asks for the same
account: the returned URI gets ``user:password@`` added. It is therefore as secret as the password: callers log
it only through :func:`~.stream_url.redact`.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import zeep.exceptions
from onvif import ONVIFCamera
from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError

from vigie_config.stream_url import OnvifAddress, url_has_password, with_credentials

from .errors import Cause, StreamResolveError

_STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


def resolve_stream_uri(address: OnvifAddress, password: str, *, timeout_s: float = 10.0) -> str:
    """Ask the camera for the RTSP URI of its chosen profile; returns it with the account's credentials.

    Raises:
        StreamResolveError: With the likely cause (unreachable, refused, auth, timeout, protocol) and the step.
    """
    return asyncio.run(_resolve(address, password, timeout_s))


async def _resolve(address: OnvifAddress, password: str, timeout_s: float) -> str:
    where = f"ONVIF camera {address.host}:{address.port}"  # no user name: logs and telemetry leave the box
    camera = ONVIFCamera(address.host, address.port, address.user, password, no_cache=True)
    step = "device service (GetServices)"
    try:
        async with asyncio.timeout(timeout_s):
            await camera.update_xaddrs()
            step = "GetProfiles"
            media = await camera.create_media_service()
            profiles = await media.GetProfiles()
            token = _pick_profile(profiles, address.profile, where)
            step = "GetStreamUri"
            answer = await media.GetStreamUri({"StreamSetup": _STREAM_SETUP, "ProfileToken": token})
    except StreamResolveError:
        raise
    except TimeoutError as exc:
        raise StreamResolveError(f"{where}: {step}: no answer within {timeout_s:g} s", "timeout") from exc
    except Exception as exc:  # the library lets aiohttp, zeep and lxml errors through: classify them all
        cause, detail = classify_failure(exc)
        raise StreamResolveError(f"{where}: {step}: {detail}", cause) from exc
    finally:
        await camera.close()
    uri = str(getattr(answer, "Uri", "") or "")
    if not uri.lower().startswith(("rtsp://", "rtsps://")):
        raise StreamResolveError(f"{where}: GetStreamUri: the camera gave no RTSP URI (got {uri[:60]!r})", "protocol")
    return uri if url_has_password(uri) else with_credentials(uri, address.user, password)


def _pick_profile(profiles: Any, wanted: str | None, where: str) -> str:
    """The token of the profile named or tokened ``wanted``, else of the first profile the camera lists."""
    listed = [(str(p.token), str(getattr(p, "Name", "") or "")) for p in profiles or []]
    if not listed:
        raise StreamResolveError(f"{where}: GetProfiles: the camera has no media profile", "protocol")
    if wanted is None:
        return listed[0][0]
    for token, name in listed:
        if wanted in (token, name):
            return token
    names = ", ".join(f"{name or '?'} ({token})" for token, name in listed)
    raise StreamResolveError(f"{where}: GetProfiles: no profile {wanted!r}; the camera has {names}", "protocol")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo += [cur.__cause__, cur.__context__, *(a for a in cur.args if isinstance(a, BaseException))]
        if isinstance(cur, aiohttp.ClientOSError | OSError):
            todo.append(getattr(cur, "os_error", None))


def classify_failure(exc: BaseException) -> tuple[Cause, str]:
    """Turn what the SOAP stack raised into a likely cause and a short detail, for logs and the probe."""
    for cur in _chain(exc):
        if isinstance(cur, ONVIFAuthError):
            return "auth", "the camera refused the user name or password"
        if isinstance(cur, zeep.exceptions.Fault):
            text = f"{cur.code or ''} {cur.subcodes or ''} {cur.message or ''}".lower()
            if "notauthorized" in text or "not authorized" in text or ("sender" in text and "auth" in text):
                return "auth", f"the camera refused the user name or password (SOAP fault: {cur.message})"
            return "protocol", f"SOAP fault from the camera: {cur.message}"
        if isinstance(cur, zeep.exceptions.TransportError) and cur.status_code in (401, 403):
            return "auth", f"the camera refused the user name or password (HTTP {cur.status_code})"
        if isinstance(cur, ONVIFTimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
            return "timeout", "the camera did not answer in time"
        if isinstance(cur, ConnectionRefusedError):
            return "refused", "connection refused (wrong port, or the camera's ONVIF service is off)"
        if isinstance(cur, socket.gaierror):
            return "unreachable", f"host name not found ({cur.strerror})"
        if isinstance(cur, OSError) and cur.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
            return "unreachable", f"no route to the camera ({cur.strerror})"
    for cur in _chain(exc):
        if isinstance(cur, zeep.exceptions.TransportError):
            return "protocol", f"HTTP {cur.status_code} from the camera (not an ONVIF device service?)"
        if isinstance(cur, aiohttp.ClientError | OSError):
            return "unreachable", f"cannot reach the camera ({cur})"
        if isinstance(cur, ONVIFError | zeep.exceptions.Error):
            return "protocol", f"unexpected answer from the camera ({cur})"
    return "protocol", f"unexpected answer from the camera ({type(exc).__name__}: {exc})"
