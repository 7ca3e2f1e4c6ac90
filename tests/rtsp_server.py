"""A real RTSP server for the tests: GStreamer's gst-rtsp-server serving an H.264 MP4 without re-encoding.

Run by Debian's own ``/usr/bin/python3`` (the only interpreter with ``gi``), never imported by the test
process; :mod:`tests.rtsp_helpers` starts, stops and restarts it. Two commands:

* ``serve``: listen on 127.0.0.1:PORT, mount the clip at PATH (optionally behind Basic authentication),
  print ``ready`` once listening, stop on SIGTERM. Every session plays the clip from its first frame at its
  own rate (a media per client, as a camera's stream starts wherever it is when a client connects). With
  ``--once`` the mount disappears when its first session ends, so that a client which reconnects at the clip's
  end finds ``404 Not Found`` instead of a second pass: a test can count one pass exactly.
* ``transcode``: the committed footage (MPEG-4 Part 2 in AVI) to H.264 in MP4, once per test run, with a
  key frame every second so that a client joining or rejoining decodes within a second.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def transcode(src: str, out: str) -> int:
    """Decode ``src`` and write H.264 (constant quantiser 18: near-lossless, so detections match the file)."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{src}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! '
        "x264enc pass=quant quantizer=18 speed-preset=veryfast bframes=0 key-int-max=10 ! "
        f'h264parse ! mp4mux ! filesink location="{out}"'
    )
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(120 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        print(f"transcode failed: {msg.parse_error() if msg else 'timeout'}", file=sys.stderr)
        return 1
    return 0


def serve(port: int, clip: str, path: str, user: str | None, password: str | None, once: bool) -> int:
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    mounts = server.get_mount_points()
    mounts.add_factory(path, factory)
    if user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(Gst.Structure.new_empty("viewer"))
        permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role("viewer", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(permissions)
    if once:
        def unmount(*_args: object) -> None:
            GLib.idle_add(lambda: mounts.remove_factory(path) and False)

        # When the first session's media is torn down (its client saw the end), not at DESCRIBE: SETUP and PLAY
        # of that session still look the mount up.
        factory.connect("media-configure", lambda _f, media: media.connect("unprepared", unmount))
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: loop.quit() or False)
    print("ready", flush=True)
    loop.run()
    return 0


def main() -> int:
    Gst.init(None)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("transcode")
    t.add_argument("src")
    t.add_argument("out")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--clip", required=True)
    s.add_argument("--path", default="/cam")
    s.add_argument("--user")
    s.add_argument("--password")
    s.add_argument("--once", action="store_true")
    args = parser.parse_args()
    if args.command == "transcode":
        return transcode(args.src, args.out)
    return serve(args.port, args.clip, args.path, args.user, args.password, args.once)


if __name__ == "__main__":
    sys.exit(main())
