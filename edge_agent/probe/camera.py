"""``vigie-edge probe camera``: can this box see this camera, and does the detector see the street?

Run by a technician at installation, before the box goes into service. Each step narrows the cause of a
failure, so that the report says what to fix rather than "no video": the ONVIF address resolved (``resolve``),
the camera's port answering (``connect``: unreachable, refused or timeout), the RTSP server accepting the path
and the credentials (``describe``: auth, wrong path), the stream decoding (``open``), its real rate
(``read``), what the detector finds on a few frames (``detect``) and, on request, a privacy-safe frame for the
install report (``snapshot``: privacy masks blanked, people pixelated, exactly as a snapshot leaving a running
box). The stream is read by the same :class:`~edge_agent.vision.source.FrameSource` the box runs, so a probe
that passes means ``vigie-edge run`` will read it too.

Nothing printed or returned carries a password: devices are shown through
:func:`~vigie_config.stream_url.redact`.
"""

from __future__ import annotations

import argparse
import errno
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from vigie_config.box import BoxConfig
from vigie_config.errors import ConfigError, SharedConfigError
from vigie_config.secrets import read_password
from vigie_config.stream_url import SourceKind, classify, parse_onvif, redact
from vigie_config.vision import CameraConfig

from ..box_config import load_box_config
from ..errors import EdgeError
from ..vision.camera_source import stream_target
from ..vision.detectors import load_detector
from ..vision.errors import StreamResolveError
from ..vision.onvif import resolve_stream_uri
from ..vision.pipeline import CameraPipeline
from ..vision.source import Frame, FrameSource, SourceError
from .report import Check, ProbeReport
from .rtsp import codec_of, describe

ROOT = Path(__file__).resolve().parents[2]
#: The model a probe detects with when no camera config names one.
DEFAULT_MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
#: The rate is measured over this last span of the read, after at least :data:`READ_MIN_S` of reading.
RATE_WINDOW_S = 2.0
READ_MIN_S = 4.0
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def probe_camera(
    source: str,
    *,
    password: str | None = None,
    camera: CameraConfig | None = None,
    frames: int = 20,
    snapshot: Path | None = None,
    timeout_s: float = 10.0,
    model: Path | None = None,
) -> ProbeReport:
    """Probe one camera; every step is a :class:`Check`, the first failure ends the probe.

    Args:
        source: Stream URL, ``onvif://user@host[:port]``, file or device index (as in a box config).
        password: The camera account's password (from its password file), if the URL does not carry it.
        camera: The camera's section of a box config, for its privacy masks, classes and model.
        frames: Frames to read to measure the rate (at least 2).
        snapshot: Where to write a privacy-masked JPEG frame, if wanted.
        timeout_s: Longest wait of each network step.
        model: Detector manifest; default: the camera's, else the project's NanoDet.
    """
    report = ProbeReport()
    device = redact(source)
    url: str | None = source
    if source.lower().startswith("onvif://"):
        url = _resolve(report, device, source, password, timeout_s)
    else:
        url = stream_target(source, password)[0]
    if url is None:
        return report
    kind = classify(url)[0]
    scheme = url.partition("://")[0].lower()
    if kind is SourceKind.STREAM:
        if not _connect(report, device, url, scheme, timeout_s):
            return report
        if scheme == "rtsp" and not _describe(report, device, url, timeout_s):
            return report
    got = _read(report, device, url, max(2, frames), timeout_s)
    if not got:
        return report
    cfg = camera or CameraConfig(name="probe", source=url, model=model or DEFAULT_MODEL)
    if model is not None:
        cfg = cfg.model_copy(update={"model": model})
    _detect_and_snapshot(report, device, cfg, got, snapshot)
    return report


def _resolve(report: ProbeReport, device: str, source: str, password: str | None, timeout_s: float) -> str | None:
    if password is None:
        report.add(Check(device, "resolve", False, "an onvif:// camera needs its password (--password-file)",
                         "auth"))
        return None
    try:
        url = resolve_stream_uri(parse_onvif(source), password, timeout_s=timeout_s)
    except StreamResolveError as exc:
        report.add(Check(device, "resolve", False, str(exc), exc.cause))
        return None
    report.add(Check(device, "resolve", True, f"ONVIF GetStreamUri: {redact(url)}"))
    return url


def _connect(report: ProbeReport, device: str, url: str, scheme: str, timeout_s: float) -> bool:
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme, 554)
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        cause, detail = _socket_failure(exc, host, port, timeout_s)
        return report.add(Check(device, "connect", False, detail, cause))
    return report.add(Check(device, "connect", True,
                            f"{host}:{port} accepts connections ({(time.monotonic() - started) * 1000:.0f} ms)"))


def _socket_failure(exc: OSError, host: str, port: int, timeout_s: float) -> tuple[str, str]:
    if isinstance(exc, TimeoutError):
        return "timeout", f"{host}:{port}: no answer within {timeout_s:g} s (camera off, or a firewall drops it)"
    if isinstance(exc, ConnectionRefusedError):
        return "refused", f"{host}:{port}: connection refused (wrong port, or the camera's server is off)"
    if isinstance(exc, socket.gaierror):
        return "unreachable", f"{host}: host name not found ({exc.strerror})"
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return "unreachable", f"{host}:{port}: no route to the camera ({exc.strerror})"
    return "unreachable", f"{host}:{port}: {exc.strerror or exc}"


def _describe(report: ProbeReport, device: str, url: str, timeout_s: float) -> bool:
    has_user = urlsplit(url).username is not None
    try:
        answer = describe(url, timeout_s)
    except OSError as exc:
        cause, detail = _socket_failure(exc, urlsplit(url).hostname or "", urlsplit(url).port or 554, timeout_s)
        return report.add(Check(device, "describe", False, f"RTSP DESCRIBE: {detail}", cause))
    except ValueError as exc:
        return report.add(Check(device, "describe", False, f"not an RTSP server: {exc}", "protocol"))
    if answer.status == 401:
        detail = ("the camera refused the user name or password" if has_user
                  else "the camera asks for credentials and none were given (rtsp://user@host/... and a password)")
        return report.add(Check(device, "describe", False, f"RTSP 401 {answer.reason}: {detail}", "auth"))
    if answer.status == 404:
        return report.add(Check(device, "describe", False,
                                f"RTSP 404: no stream at {urlsplit(url).path or '/'} (wrong path)", "protocol"))
    if answer.status != 200:
        return report.add(Check(device, "describe", False, f"RTSP {answer.status} {answer.reason}", "protocol"))
    codec = codec_of(answer.body)
    if codec:
        report.facts["codec"] = codec
    return report.add(Check(device, "describe", True, f"RTSP 200, stream announced as {codec or 'unknown codec'}"))


def _read(report: ProbeReport, device: str, url: str, count: int, timeout_s: float) -> list[Frame]:
    """Open with the box's own source and read ``count`` frames; a watchdog closes it if the camera stalls."""
    try:
        source = FrameSource(url, open_timeout_s=timeout_s, read_timeout_s=timeout_s,
                             reconnect_min_s=0.5, reconnect_max_s=2.0)
    except SourceError as exc:
        report.add(Check(device, "open", False, str(exc), "protocol"))
        return []
    watchdog = threading.Timer(timeout_s * 2 + 1.0, source.close)
    watchdog.daemon = True
    watchdog.start()
    got: list[Frame] = []
    try:
        first = source.read()
        if first is None:
            error = str(source.health()["source.last_error"]) or "no frame"
            cause = "timeout" if "within" in error or not error else "protocol"
            report.add(Check(device, "open", False, f"{error} (camera answers, but its stream does not decode)",
                             cause))
            return []
        got.append(first)
        codec = source.codec or report.facts.get("codec", "unknown")
        report.facts.setdefault("codec", codec)
        height, width = first.image.shape[:2]
        report.facts["resolution"] = f"{width}x{height}"
        report.add(Check(device, "open", True, f"{codec}, {width}x{height}"))
        watchdog.cancel()
        # Long enough for a 1 fps stream to deliver its frames, short enough that a stalled one ends the probe.
        watchdog = threading.Timer(timeout_s + READ_MIN_S + count * 1.5, source.close)
        watchdog.daemon = True
        watchdog.start()
        while (len(got) < count or got[-1].t - got[0].t < READ_MIN_S) and (frame := source.read()) is not None:
            got.append(frame)
    finally:
        watchdog.cancel()
        source.close()
    if len(got) < 2:
        report.add(Check(device, "read", False, f"{len(got)} frame(s), then nothing within the timeout",
                         "timeout"))
        return []
    fps = _rate([f.t for f in got])
    report.facts["fps"] = f"{fps:.1f}"
    report.add(Check(device, "read", True, f"{len(got)} frames at {fps:.1f} fps"))
    return got


def _rate(times: list[float]) -> float:
    """Frames per second from the frames' times, over the last :data:`RATE_WINDOW_S` only.

    A stream's first frames arrive in a burst (what FFmpeg buffered while it probed the stream, often two or
    three seconds of video). The source times them by the stream's timestamps, which keeps their real spacing,
    but a stream without usable timestamps is timed on arrival, and a mean over all its frames would overstate
    the rate several times over.
    """
    window = [t for t in times if t >= times[-1] - RATE_WINDOW_S]
    if len(window) < 2 or window[-1] <= window[0]:
        return 0.0
    return (len(window) - 1) / (window[-1] - window[0])


def _detect_and_snapshot(report: ProbeReport, device: str, cfg: CameraConfig, frames: list[Frame],
                         snapshot: Path | None) -> None:
    try:
        detector = load_detector(cfg.model, cfg.threads, score_threshold=cfg.score_threshold)
        pipeline = CameraPipeline(0, cfg, detector)
    except (EdgeError, SharedConfigError) as exc:  # a model that lacks the camera's classes: a config error
        report.add(Check(device, "detect", False, f"cannot load the detector: {exc}", "model"))
        return
    picks = sorted({0, len(frames) // 2, len(frames) - 1})
    best: Counter[str] = Counter()
    shown = 0
    for i in picks:
        found = Counter(d.class_name for d in pipeline.last_detections(frames[i].image))
        if sum(found.values()) >= sum(best.values()):
            best, shown = found, i
    summary = ", ".join(f"{name} {n}" for name, n in best.most_common()) or "nothing"
    report.facts["detections"] = f"{sum(best.values())} ({summary})"
    report.add(Check(device, "detect", True, f"{sum(best.values())} objects on frame {shown + 1} of {len(frames)} "
                     f"({summary}; {len(picks)} frames analysed)"))
    if snapshot is None:
        return
    try:
        jpeg = pipeline.snapshot(frames[shown].image)
        snapshot.write_bytes(jpeg)
    except (OSError, RuntimeError) as exc:
        report.add(Check(device, "snapshot", False, f"cannot write {snapshot}: {exc}", "local"))
        return
    report.add(Check(device, "snapshot", True, f"{snapshot}: {len(jpeg)} bytes, {len(cfg.masks)} privacy mask(s) "
                     "blanked, people pixelated"))


def _from_args(args: argparse.Namespace) -> ProbeReport:
    """``probe camera``: one camera, given by its URL or by its section of a box config."""
    camera = None
    if args.camera_config is not None:
        cameras = load_box_config(args.camera_config).cameras
        named = [c for c in cameras if args.camera in (None, c.name)]
        if not named:
            known = ", ".join(c.name for c in cameras) or "none"
            raise ConfigError(f"{args.camera_config}: no camera {args.camera!r} (cameras: {known})")
        camera = named[0]
    source = args.source or (camera.source if camera is not None else None)
    if source is None:
        raise ConfigError("probe camera: give a source (URL, onvif://user@host, file, device) or --config")
    password_file = args.password_file or (camera.password_file if camera is not None else None)
    password = None if password_file is None else read_password(password_file)
    return probe_camera(source, password=password, camera=camera, frames=args.frames, snapshot=args.snapshot,
                        timeout_s=args.timeout, model=args.model)


def add_parser(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``vigie-edge probe camera URL|onvif://...|--config BOX.yaml [--camera NAME] [--snapshot FILE]``."""
    c = kinds.add_parser("camera", help="connect, read, measure, detect; --snapshot for the install report")
    c.add_argument("source", nargs="?", help="rtsp://..., onvif://user@host[:port], file or device index")
    c.add_argument("--config", dest="camera_config", type=Path,
                   help="box config: take the camera's source, password, masks, model")
    c.add_argument("--camera", help="camera name in --config (default: the first)")
    c.add_argument("--password-file", type=Path, help="file holding the camera password (first line)")
    c.add_argument("--frames", type=int, default=20, help="frames read to measure the rate")
    c.add_argument("--snapshot", type=Path, help="write a privacy-masked JPEG frame here")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds allowed to each network step")
    c.add_argument("--model", type=Path, help="detector manifest (default: the camera's, else NanoDet)")
    c.set_defaults(kind_func=_from_args)


def probe_box_cameras(box: BoxConfig, _path: Path) -> list[Check]:
    """Every camera of a box config, probed as ``probe camera --config`` would (no snapshot)."""
    checks: list[Check] = []
    for camera in box.cameras:
        password = None if camera.password_file is None else read_password(camera.password_file)
        checks.extend(probe_camera(camera.source, password=password, camera=camera).checks)
    return checks
