"""``vigie-edge probe camera`` against a real RTSP server and ONVIF endpoint: facts, causes, snapshot."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from coordinator.broker import free_port
from edge_agent.cli import main
from edge_agent.probe.camera import probe_camera
from edge_agent.probe.rtsp import authorization, codec_of, parse_answer
from edge_agent.vision.detectors import load_detector
from tests.onvif_camera import OnvifCamera
from tests.rtsp_helpers import RtspCamera, transcode_to_h264
from vigie_config.vision import CameraConfig

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
PASSWORD = "Pr0be-pole-17"


@dataclass
class _Run:
    code: int
    out: str


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return transcode_to_h264(VIDEO, tmp_path_factory.mktemp("probe") / "clip.mp4")


@pytest.fixture(scope="module")
def camera(clip: Path) -> Iterator[RtspCamera]:
    """One authenticated RTSP camera for the module (each session plays the clip from its start)."""
    with RtspCamera(clip, user="viewer", password=PASSWORD) as server:
        yield server


@pytest.fixture
def probe(capsys: pytest.CaptureFixture[str]) -> Callable[..., _Run]:
    """``vigie-edge probe camera ARGS`` as a technician runs it: exit code and the printed report."""
    def run(*args: str) -> _Run:
        code = main(["probe", "camera", *args, "--timeout", "5"])
        captured = capsys.readouterr()
        return _Run(code, captured.out + captured.err)
    return run


def _row(out: str, step: str) -> str:
    return next((line for line in out.splitlines() if f"  {step} " in line), "")


def _cause(row: str, step: str) -> str:
    """The likely cause a failed row names: ``FAIL  <device>  <step>  <cause>: <detail>``."""
    return row.split(f"  {step}  ", 1)[-1].lstrip().split(": ", 1)[0]


def test_a_working_camera_reports_codec_resolution_fps_and_detections(camera: RtspCamera,
                                                                      probe: Callable[..., _Run]) -> None:
    run = probe(camera.url())
    assert run.code == 0, run.out
    assert "codec: H264" in run.out and "resolution: 768x576" in run.out
    fps = float(run.out.split("fps: ")[1].split()[0])
    assert 7.0 <= fps <= 13.0, f"the server sends 10 fps; measured {fps}"
    detections = run.out.split("detections: ")[1]
    assert int(detections.split()[0]) >= 3 and "person" in detections
    assert PASSWORD not in run.out and f"rtsp://***@127.0.0.1:{camera.port}/cam" in run.out


@pytest.mark.parametrize(("url", "cause", "words"), [
    ("rtsp://viewer:wrong-one@127.0.0.1:{port}/cam", "auth", "refused the user name or password"),
    ("rtsp://127.0.0.1:{port}/cam", "auth", "none were given"),
    ("rtsp://viewer:{password}@127.0.0.1:{port}/elsewhere", "protocol", "no stream at /elsewhere"),
])
def test_a_refusal_by_the_camera_names_the_step_and_the_cause(camera: RtspCamera, probe: Callable[..., _Run],
                                                              url: str, cause: str, words: str) -> None:
    run = probe(url.format(port=camera.port, password=PASSWORD))
    assert run.code == 1
    row = _row(run.out, "describe")
    assert "FAIL" in row and _cause(row, "describe") == cause and words in row
    assert PASSWORD not in run.out and "wrong-one" not in run.out


def test_nothing_listening_is_refused(probe: Callable[..., _Run]) -> None:
    port = free_port()
    run = probe(f"rtsp://127.0.0.1:{port}/cam")
    assert run.code == 1
    assert "connection refused" in _row(run.out, "connect") and _cause(_row(run.out, "connect"), "connect") == "refused"


def test_a_camera_that_accepts_and_stays_silent_is_a_timeout(probe: Callable[..., _Run]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts nor answers
        run = probe(f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam")
    row = _row(run.out, "describe")
    assert run.code == 1 and "FAIL" in row and _cause(row, "describe") == "timeout"


def test_an_unknown_host_is_unreachable(probe: Callable[..., _Run]) -> None:
    run = probe("rtsp://camera-17.invalid/cam")
    row = _row(run.out, "connect")
    assert run.code == 1 and "camera-17.invalid" in row and _cause(row, "connect") == "unreachable"


def test_an_onvif_camera_is_resolved_then_streamed(camera: RtspCamera, probe: Callable[..., _Run],
                                                   tmp_path: Path) -> None:
    (tmp_path / "camera.pw").write_text(PASSWORD + "\n")
    with OnvifCamera("viewer", PASSWORD, {"Profile_1": camera.url(credentials=False)}) as onvif:
        good = probe(onvif.address, "--password-file", str(tmp_path / "camera.pw"))
        (tmp_path / "wrong.pw").write_text("not-it\n")
        bad = probe(onvif.address, "--password-file", str(tmp_path / "wrong.pw"))
    assert good.code == 0, good.out
    assert _row(good.out, "resolve").startswith("PASS") and f"rtsp://***@127.0.0.1:{camera.port}/cam" in good.out
    assert bad.code == 1 and _cause(_row(bad.out, "resolve"), "resolve") == "auth"
    assert "open" not in bad.out.split("\n", 1)[1]
    assert PASSWORD not in good.out + bad.out


def test_the_probe_returns_its_checks_as_values(camera: RtspCamera) -> None:
    report = probe_camera(camera.url(), frames=5, timeout_s=5)
    assert report.ok
    assert [c.step for c in report.checks] == ["connect", "describe", "open", "read", "detect"]
    assert all(c.device == f"rtsp://***@127.0.0.1:{camera.port}/cam" and c.cause is None for c in report.checks)


def test_a_camera_whose_classes_the_model_lacks_fails_the_detect_step_not_the_probe(camera: RtspCamera) -> None:
    cfg = CameraConfig(name="north", source=camera.url(), model=MODEL, classes=["person", "unicorn"])
    report = probe_camera(camera.url(), camera=cfg, frames=3, timeout_s=5)
    detect = [c for c in report.checks if c.step == "detect"]
    assert not report.ok and len(detect) == 1 and not detect[0].ok
    assert "unicorn" in detect[0].detail and detect[0].cause == "model"


def _detail(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_the_snapshot_has_the_config_masks_blanked_and_people_pixelated(
        camera: RtspCamera, clip: Path, probe: Callable[..., _Run], tmp_path: Path) -> None:
    """The install-report frame, with the box config's mask (left fifth) and every person unrecognisable."""
    (tmp_path / "camera.pw").write_text(PASSWORD + "\n")
    box = {"device_id": "cam-pole-17", "site": "dijon", "cameras": [{
        "name": "pole-17", "source": f"rtsp://viewer@127.0.0.1:{camera.port}/cam", "password_file": "camera.pw",
        "model": str(MODEL), "masks": [{"polygon": [[0, 0], [0.2, 0], [0.2, 1], [0, 1]]}],
        "snapshots": {"max_width": 768, "jpeg_quality": 95}}]}
    (tmp_path / "box.yaml").write_text(yaml.safe_dump(box))
    snap_path = tmp_path / "install-report.jpg"
    run = probe("--config", str(tmp_path / "box.yaml"), "--snapshot", str(snap_path))
    assert run.code == 0, run.out
    assert "1 privacy mask(s) blanked" in _row(run.out, "snapshot")
    snap = cv2.imread(str(snap_path))
    assert snap is not None and snap.shape == (576, 768, 3)
    assert float(snap[:, : int(0.2 * 768) - 2].mean()) < 2.0, "the masked fifth is black"
    # Which frame of the clip was it? The one closest outside the mask and away from people.
    cap, originals = cv2.VideoCapture(str(clip)), []
    while (got := cap.read())[0]:
        originals.append(got[1])
    cap.release()
    diffs = [float(np.abs(o[:, 200:].astype(np.int16) - snap[:, 200:].astype(np.int16)).mean()) for o in originals]
    orig = originals[int(np.argmin(diffs))]
    detector = load_detector(MODEL, 2, score_threshold=0.5)
    grey_orig, grey_snap = cv2.cvtColor(orig, cv2.COLOR_BGR2GRAY), cv2.cvtColor(snap, cv2.COLOR_BGR2GRAY)
    checked = 0
    for d in detector.detect(orig):
        if d.class_name != "person" or d.x0 < 160 or (d.x1 - d.x0) * (d.y1 - d.y0) < 1500:
            continue
        x0, y0, x1, y1 = (int(v) for v in (d.x0, d.y0, d.x1, d.y1))
        before, after = _detail(grey_orig[y0:y1, x0:x1]), _detail(grey_snap[y0:y1, x0:x1])
        assert after < 0.15 * before, f"person at {x0},{y0} still detailed ({after:.0f}/{before:.0f})"
        checked += 1
    assert checked >= 2, "the test must have looked at people"


def test_digest_authorization_matches_the_rfc_2617_example() -> None:
    challenge = 'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    header = authorization(challenge, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b")
    assert header is not None and 'response="6629fae49393a05397450978507c4ef1"' in header
    basic = authorization('Basic realm="cam"', "viewer", "pw", "DESCRIBE", "rtsp://h/cam", "x")
    assert basic == "Basic dmlld2VyOnB3"


def test_an_rtsp_answer_and_its_sdp_are_parsed() -> None:
    raw = (b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Type: application/sdp\r\nContent-Length: 60\r\n\r\n"
           b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n")
    answer = parse_answer(raw)
    assert (answer.status, answer.headers["cseq"]) == (200, "1") and codec_of(answer.body) == "H265"
    with pytest.raises(ValueError, match="not an RTSP answer"):
        parse_answer(b"HTTP/1.1 200 OK\r\n\r\n")
