"""ONVIF Profile S: a camera's RTSP address from its ONVIF service, against a SOAP endpoint with real checks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from coordinator.broker import free_port
from edge_agent.vision.camera_source import open_source
from edge_agent.vision.errors import StreamResolveError
from edge_agent.vision.onvif import resolve_stream_uri
from tests.mqtt_helpers import wait_until
from tests.onvif_camera import OnvifCamera
from tests.rtsp_helpers import RtspCamera, transcode_to_h264
from vigie_config.stream_url import parse_onvif
from vigie_config.vision import CameraConfig

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
MODEL = ROOT / "models" / "nanodet-g-416.manifest.json"
PASSWORD = "Onv1f-pole-17"
STREAMS = {"Profile_1": "rtsp://127.0.0.1:5554/Streaming/Channels/101",
           "Profile_2": "rtsp://127.0.0.1:5554/Streaming/Channels/102"}


def test_the_stream_uri_of_the_first_profile_comes_back_with_the_account() -> None:
    with OnvifCamera("admin", PASSWORD, STREAMS) as camera:
        uri = resolve_stream_uri(parse_onvif(camera.address), PASSWORD)
    assert uri == f"rtsp://admin:{PASSWORD}@127.0.0.1:5554/Streaming/Channels/101"
    # Every call carried a valid WS-Security digest; the client asked the camera for its services first.
    assert [name for name, _ in camera.calls] == ["GetServices", "GetProfiles", "GetStreamUri"]
    assert all(ok for _, ok in camera.calls)


@pytest.mark.parametrize("profile", ["subStream", "Profile_2"])
def test_a_profile_is_chosen_by_name_or_token(profile: str) -> None:
    with OnvifCamera("admin", PASSWORD, STREAMS) as camera:
        uri = resolve_stream_uri(parse_onvif(f"{camera.address}?profile={profile}"), PASSWORD)
    assert uri.endswith("/Streaming/Channels/102")


def test_an_unknown_profile_names_the_ones_the_camera_has() -> None:
    with OnvifCamera("admin", PASSWORD, STREAMS) as camera, pytest.raises(StreamResolveError) as err:
        resolve_stream_uri(parse_onvif(f"{camera.address}?profile=thirdStream"), PASSWORD)
    assert err.value.cause == "protocol"
    assert "thirdStream" in str(err.value) and "mainStream (Profile_1), subStream (Profile_2)" in str(err.value)


def test_a_wrong_password_is_an_auth_failure_that_does_not_show_the_password() -> None:
    with OnvifCamera("admin", PASSWORD, STREAMS) as camera, pytest.raises(StreamResolveError) as err:
        resolve_stream_uri(parse_onvif(camera.address), "not-the-password")
    assert err.value.cause == "auth"
    assert f"ONVIF camera 127.0.0.1:{camera.port}" in str(err.value)
    assert "not-the-password" not in str(err.value) and "admin" not in str(err.value)
    assert camera.calls and not any(ok for _, ok in camera.calls)


def test_nothing_listening_is_refused() -> None:
    with pytest.raises(StreamResolveError) as err:
        resolve_stream_uri(parse_onvif(f"onvif://admin@127.0.0.1:{free_port()}"), PASSWORD)
    assert err.value.cause == "refused"


def test_a_camera_that_never_answers_is_a_timeout() -> None:
    with OnvifCamera("admin", PASSWORD, STREAMS, silent=True) as camera, pytest.raises(StreamResolveError) as err:
        resolve_stream_uri(parse_onvif(camera.address), PASSWORD, timeout_s=1.0)
    assert err.value.cause == "timeout" and "1 s" in str(err.value)


def test_a_camera_configured_by_its_onvif_address_streams_frames(tmp_path: Path) -> None:
    """The box config names ``onvif://user@host``; the RTSP server behind it wants the same account."""
    clip = transcode_to_h264(VIDEO, tmp_path / "clip.mp4")
    (tmp_path / "camera.pw").write_text(PASSWORD + "\n")
    with RtspCamera(clip, user="admin", password=PASSWORD) as rtsp, \
            OnvifCamera("admin", PASSWORD, {"Profile_1": rtsp.url(credentials=False)}) as camera:
        config = CameraConfig.model_validate({"name": "pole-17", "source": camera.address,
                                              "password_file": str(tmp_path / "camera.pw"), "model": str(MODEL)})
        source = open_source(config, reconnect_min_s=0.2, reconnect_max_s=1.0)
        frames = []
        done = threading.Event()

        def read() -> None:
            while len(frames) < 20 and (frame := source.read()) is not None:
                frames.append(frame)
            done.set()

        threading.Thread(target=read, name="test-onvif-reader", daemon=True).start()
        assert done.wait(60), "20 frames through the ONVIF-resolved stream"
        health = source.health()
        source.close()
    assert len(frames) == 20 and frames[0].image.shape == (576, 768, 3)
    assert health["source.connected"] is True
    assert PASSWORD not in repr(health) and source.name == f"onvif://***@127.0.0.1:{camera.port}"
    assert ("GetStreamUri", True) in camera.calls


def test_a_refused_onvif_login_is_retried_with_back_off_until_the_camera_accepts(tmp_path: Path) -> None:
    """A camera whose account is fixed while the box runs: counted failed attempts, then frames, no crash."""
    clip = transcode_to_h264(VIDEO, tmp_path / "clip.mp4")
    (tmp_path / "camera.pw").write_text(PASSWORD + "\n")
    with RtspCamera(clip, user="admin", password=PASSWORD) as rtsp, \
            OnvifCamera("admin", "set-by-the-installer", {"Profile_1": rtsp.url(credentials=False)}) as camera:
        config = CameraConfig.model_validate({"name": "pole-17", "source": camera.address,
                                              "password_file": str(tmp_path / "camera.pw"), "model": str(MODEL)})
        source = open_source(config, reconnect_min_s=0.2, reconnect_max_s=0.5)
        first: list[object] = []
        reader = threading.Thread(target=lambda: first.append(source.read()), name="test-onvif-retry", daemon=True)
        reader.start()
        wait_until(lambda: source.health()["source.reconnects"] >= 2, 30, "retried ONVIF attempts")
        refused = source.health()
        camera.password = PASSWORD  # the installer aligns the camera's account with the box's password file
        reader.join(60)
        health = source.health()
        source.close()
    assert first and first[0] is not None, "frames once the camera accepts the login"
    assert refused["source.connected"] is False
    assert "refused the user name or password" in str(refused["source.last_error"])
    assert PASSWORD not in str(refused) and health["source.connected"] is True
    assert health["source.reconnects"] >= refused["source.reconnects"]
