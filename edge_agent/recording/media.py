"""Cutting a camera's stream into MP4 segments with FFmpeg's libraries (PyAV).

Two ways, chosen per camera by :func:`choose_mode`:

* **copy**: the source is H.264 and no privacy mask applies. Packets are remuxed as they
  came from the camera, never decoded: what is recorded is bit for bit what the camera sent,
  for the cost of parsing. A segment is cut at the first key frame after ``segment_s``, so
  every segment starts with one and plays alone.
* **encode**: otherwise (a mask must be burned in, or the camera sends MPEG-4 Part 2, MJPEG...).
  Frames are decoded, the masked pixels blanked in the YUV planes (black: Y 16, U = V 128;
  a chroma sample is blanked when any of its four luma pixels is, so a mask never leaks
  colour at its edge), and encoded with x264. Each segment starts a new encoder, so it starts
  with a key frame.

Segments are built in memory and handed over whole, to be encrypted before anything touches
the disk (:mod:`.crypto`): a clear MP4 never exists on the box's storage. A segment is at most
``segment_s`` of video (a few MB at 768x576), which a box holds easily.

Times: each packet is placed at ``t0 + (pts - pts0)``, ``t0`` the wall clock when the first
packet arrived; a looped file continues its timeline across loops.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
import av.container
import numpy as np
import numpy.typing as npt

from ..vision.geometry import Polygon
from ..vision.privacy import polygon_mask

#: x264 settings of re-encoded segments: fast enough for a box's CPU, visually lossless at this size.
X264_OPTIONS = {"preset": "veryfast", "crf": "23", "tune": "zerolatency"}


def choose_mode(codec: str, masked: bool) -> str:
    """``copy`` when the camera's H.264 can be kept as it is, ``encode`` otherwise."""
    return "copy" if codec == "h264" and not masked else "encode"


@dataclass(frozen=True)
class Finished:
    """One finished segment: its UTC interval, its MP4 bytes, its frame count."""

    start_ms: int
    end_ms: int
    mp4: bytes
    frames: int


class SegmentWriter(Protocol):
    mode: str

    def feed(self, packet: av.Packet, t_ms: int) -> Finished | None: ...

    def finish(self, end_ms: int) -> Finished | None: ...


def _close(buf: io.BytesIO, out: av.container.OutputContainer, start_ms: int, end_ms: int,
           frames: int) -> Finished | None:
    out.close()
    if frames == 0:
        return None
    return Finished(start_ms, max(end_ms, start_ms + 1), buf.getvalue(), frames)


class CopyWriter:
    """Remux the camera's own packets into segments (no decoding)."""

    mode = "copy"

    def __init__(self, stream: av.video.stream.VideoStream, segment_ms: int) -> None:
        self._in = stream
        self._segment_ms = segment_ms
        self._open: tuple[io.BytesIO, av.container.OutputContainer, Any, int, int] | None = None
        self._frames = 0

    def _start(self, t_ms: int, base: int) -> None:
        buf = io.BytesIO()
        out = av.open(buf, mode="w", format="mp4")
        ostream = out.add_stream_from_template(self._in)
        self._open = (buf, out, ostream, t_ms, base)
        self._frames = 0

    def feed(self, packet: av.Packet, t_ms: int) -> Finished | None:
        dts = packet.dts if packet.dts is not None else packet.pts
        if dts is None or packet.size == 0:
            return None
        done = None
        if self._open is None:
            if not packet.is_keyframe:
                return None  # a segment starts on a key frame
        elif packet.is_keyframe and t_ms - self._open[3] >= self._segment_ms:
            done = self.finish(t_ms)
        if self._open is None:
            self._start(t_ms, dts)
        assert self._open is not None
        _, out, ostream, _, base = self._open
        if packet.pts is not None:
            packet.pts -= base
        packet.dts = dts - base
        packet.stream = ostream
        out.mux(packet)
        self._frames += 1
        return done

    def finish(self, end_ms: int) -> Finished | None:
        if self._open is None:
            return None
        buf, out, _, start, _ = self._open
        self._open = None
        return _close(buf, out, start, end_ms, self._frames)


class EncodeWriter:
    """Decode, blank the masks, encode with x264: segments that never held the masked pixels."""

    mode = "encode"

    def __init__(self, stream: av.video.stream.VideoStream, segment_ms: int, masks: Sequence[Polygon],
                 options: dict[str, str] | None = None) -> None:
        """``masks``: polygons in normalised frame coordinates (0..1), as in the camera config."""
        self._in = stream
        self._segment_ms = segment_ms
        self._norm_masks = list(masks)
        self._options = dict(X264_OPTIONS if options is None else options)
        rate = stream.average_rate or stream.guessed_rate or Fraction(10)
        self._rate = Fraction(rate).limit_denominator(1000)
        self._luma: npt.NDArray[np.bool_] | None = None
        self._chroma: npt.NDArray[np.bool_] | None = None
        self._open: tuple[io.BytesIO, av.container.OutputContainer, Any, int] | None = None
        self._frames = 0

    def _masks_for(self, width: int, height: int) -> None:
        polys = [tuple((x * width, y * height) for x, y in p) for p in self._norm_masks]
        luma = polygon_mask((height, width), polys)
        self._luma = luma
        # a chroma sample covers 2x2 luma pixels: blank it when any of them is masked
        padded = np.pad(luma, ((0, height % 2), (0, width % 2)))
        self._chroma = np.asarray(padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).any(axis=(1, 3)))

    def _start(self, t_ms: int, width: int, height: int) -> None:
        buf = io.BytesIO()
        out = av.open(buf, mode="w", format="mp4")
        ostream = out.add_stream("libx264", rate=self._rate, options=self._options)
        ostream.width, ostream.height, ostream.pix_fmt = width, height, "yuv420p"
        ostream.codec_context.time_base = Fraction(1, 1000)
        self._open = (buf, out, ostream, t_ms)
        self._frames = 0

    def blank(self, frame: av.VideoFrame) -> av.VideoFrame:
        """``frame`` as yuv420p with every masked pixel black (a new frame)."""
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        if not self._norm_masks:
            return frame
        if self._luma is None or self._luma.shape != (frame.height, frame.width):
            self._masks_for(frame.width, frame.height)
        assert self._luma is not None and self._chroma is not None
        planes = frame.to_ndarray()  # (h * 3/2, w): the Y plane, then U and V packed row after row
        h, w = frame.height, frame.width
        planes[:h][self._luma] = 16
        ch, cw = h // 2, w // 2
        chroma = planes[h:].reshape(-1)  # a view: U then V, each ch x cw
        chroma[: ch * cw].reshape(ch, cw)[self._chroma[:ch, :cw]] = 128
        chroma[ch * cw:].reshape(ch, cw)[self._chroma[:ch, :cw]] = 128
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")

    def feed(self, packet: av.Packet, t_ms: int) -> Finished | None:
        done = None
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame):
                done = self.feed_frame(frame, t_ms) or done
        return done

    def feed_frame(self, frame: av.VideoFrame, t_ms: int) -> Finished | None:
        done = None
        if self._open is not None and t_ms - self._open[3] >= self._segment_ms:
            done = self.finish(t_ms)
        if self._open is None:
            self._start(t_ms, frame.width, frame.height)
        assert self._open is not None
        _, out, ostream, start = self._open
        clean = self.blank(frame)
        clean.pts = t_ms - start
        clean.time_base = Fraction(1, 1000)
        for p in ostream.encode(clean):
            out.mux(p)
        self._frames += 1
        return done

    def finish(self, end_ms: int) -> Finished | None:
        if self._open is None:
            return None
        buf, out, ostream, start = self._open
        self._open = None
        for p in ostream.encode(None):
            out.mux(p)
        return _close(buf, out, start, end_ms, self._frames)


def make_writer(stream: av.video.stream.VideoStream, segment_s: float, masks: Sequence[Polygon],
                force_encode: bool = False) -> CopyWriter | EncodeWriter:
    """The writer for this stream and these masks (see :func:`choose_mode`)."""
    segment_ms = round(segment_s * 1000)
    mode = "encode" if force_encode else choose_mode(stream.codec_context.name, bool(masks))
    return CopyWriter(stream, segment_ms) if mode == "copy" else EncodeWriter(stream, segment_ms, masks)


def open_input(url: str, timeout_s: float = 10.0) -> av.container.InputContainer:
    """Open a camera or file with FFmpeg; RTSP over TCP, as the detection source does."""
    options = {"rtsp_transport": "tcp"} if url.lower().startswith(("rtsp://", "rtsps://")) else {}
    return av.open(url, mode="r", options=options, timeout=(timeout_s, timeout_s))

