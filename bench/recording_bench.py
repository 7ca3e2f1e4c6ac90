"""Benchmark of recording on the box, and of evidence packages, against bare baselines measured in the same run.

1. **Recording CPU per camera** at 768x576, 10 fps (the committed footage, as an IP camera sends it: transcoded
   once to H.264 by GStreamer's x264, as the RTSP tests do). Each contender processes the whole clip, in rotating
   order, for ``--rounds`` rounds; CPU is ``time.process_time()`` of the process (FFmpeg's and x264's threads
   included) divided by the seconds of video processed, i.e. the fraction of one core a camera takes at 10 fps:

   * ``decode`` (baseline): demux and decode every frame, nothing else: what any reader of the camera pays;
   * ``copy``: the recorder's stream copy: demux, remux into 60 s MP4 segments in memory, AES-GCM, write;
   * ``encode+masks``: decode, blank a privacy mask (a quarter of the frame) in YUV, x264 (veryfast, CRF 23),
     mux, AES-GCM, write: what a masked camera costs.

   Goal: stream copy <= 2 % of a core. Disk per day per camera follows from the bytes written (encrypted).

2. **Package for 4 hours of footage from 2 cameras**: 60 s segments (the footage re-encoded as ``encode+masks``
   records it, looped to a minute), copied to 2 x 240 files under a segments directory; then
   ``build_package`` (copy, frame count by decoding, SHA-256, manifest, Ed25519, ZIP) and ``verify_package``
   on the ZIP, each as a ratio to reading the same bytes once (1 MiB reads, page cache warm for all three).

Run: ``.venv/bin/python bench/recording_bench.py --write bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from bench.vision_bench import VIDEO, _load, code_version, machine  # noqa: E402
from coordinator.evidence import (  # noqa: E402
    build_package,
    find_segments,
    generate_key,
    load_private_key,
    verify_package,
)
from edge_agent.recording.media import EncodeWriter, Finished, make_writer, open_input  # noqa: E402
from edge_agent.recording.store import SegmentStore  # noqa: E402
from tests.rtsp_helpers import transcode_to_h264  # noqa: E402

HEADING = "## Recording and evidence packages (issue 15)"
MASK = [[(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]]
DAY_S = 86_400


def _decode(clip: Path, _store: SegmentStore) -> tuple[float, int]:
    with open_input(str(clip)) as c:
        s = c.streams.video[0]
        frames = sum(1 for p in c.demux(s) for _ in p.decode())
    return frames / 10.0, 0


def _record(clip: Path, store: SegmentStore, *, masked: bool, segment_s: float = 60.0) -> tuple[float, int]:
    """Record the clip as the recorder does (times from the packets); returns (video seconds, bytes on disk)."""
    written = 0
    with open_input(str(clip)) as c:
        s = c.streams.video[0]
        writer = make_writer(s, segment_s, MASK if masked else [], force_encode=masked)
        tb = float(s.time_base or 0)
        last = 0

        def keep(done: Finished | None) -> None:
            nonlocal written
            if done is not None:
                written += store.write("bench", done.start_ms, done.end_ms, done.mp4).bytes

        for packet in c.demux(s):
            if packet.pts is None:
                continue
            last = int(packet.pts * tb * 1000)
            keep(writer.feed(packet, last))
        keep(writer.finish(last + 100))
    return 15.0, written


def recording_cpu(clip: Path, rounds: int, work: Path) -> dict[str, list[tuple[float, float, int]]]:
    """(CPU s, video s, bytes) per round and contender, in rotating order."""
    store = SegmentStore(work / "segments", os.urandom(32))
    contenders: list[tuple[str, Callable[[], tuple[float, int]]]] = [
        ("decode", lambda: _decode(clip, store)),
        ("copy", lambda: _record(clip, store, masked=False)),
        ("encode+masks", lambda: _record(clip, store, masked=True)),
    ]
    for _, run in contenders:  # warm-up: codec tables, first allocations
        run()
    out: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _ in contenders}
    for r in range(rounds):
        for name, run in contenders[r % 3:] + contenders[: r % 3]:
            cpu0 = time.process_time()
            video_s, size = run()
            out[name].append((time.process_time() - cpu0, video_s, size))
    return out


def minute_segment(clip: Path, work: Path) -> bytes:
    """One 60 s segment as a masked camera records it: the clip's frames looped to 600, re-encoded."""
    with av.open(str(clip)) as c:
        frames = [f.reformat(format="yuv420p") for f in c.decode(video=0)]
    with av.open(str(clip)) as c:
        writer = EncodeWriter(c.streams.video[0], 61_000, MASK)
        for i in range(600):
            writer.feed_frame(frames[i % len(frames)], i * 100)
        done = writer.finish(60_000)
    assert done is not None and done.frames == 600
    return done.mp4


def read_once(paths: list[Path]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        with p.open("rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - t0


def package_times(segment: bytes, hours: float, work: Path) -> dict[str, float]:
    root = work / "coordinator-segments"
    t0 = 1_780_000_000_000
    cameras = ["dijon/cam-darcy-01/north", "dijon/cam-darcy-01/south"]
    files = []
    for cam in cameras:
        folder = root.joinpath(*cam.split("/"))
        folder.mkdir(parents=True)
        for k in range(round(hours * 60)):
            f = folder / f"{t0 + k * 60_000}-{t0 + (k + 1) * 60_000}.mp4"
            f.write_bytes(segment)
            files.append(f)
    generate_key(work / "centre.pem")
    key = load_private_key(work / "centre.pem")
    read_once(files)  # page cache warm for everyone
    base = read_once(files)
    segs = find_segments(root, cameras, t0, t0 + round(hours * 3_600_000))
    c0 = time.perf_counter()
    archive = build_package(work / "package", segs, {"id": 1, "procedure": "PV-BENCH"}, "cheffe", t0, key, t0)
    build = time.perf_counter() - c0
    v0 = time.perf_counter()
    report = verify_package(archive)
    verify = time.perf_counter() - v0
    assert report.ok and report.files == len(files), report.problems
    total = sum(f.stat().st_size for f in files)
    return {"files": len(files), "bytes": total, "read": base, "build": build, "verify": verify,
            "zip_bytes": archive.stat().st_size}


def _pct(cpu: float, video: float) -> float:
    return 100.0 * cpu / video


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the recording contenders, each the whole clip")
    ap.add_argument("--hours", type=float, default=4.0, help="hours of footage per camera in the package")
    ap.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = ap.parse_args()
    load_before = _load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vigie-rec-bench-") as tmp:
        work = Path(tmp)
        clip = transcode_to_h264(VIDEO, work / "vtest_excerpt.h264.mp4")
        cpu = recording_cpu(clip, args.rounds, work)
        pkg = package_times(minute_segment(clip, work), args.hours, work)
        shutil.rmtree(work / "package", ignore_errors=True)
    load_after = _load()

    def median_pct(name: str) -> float:
        return statistics.median(_pct(c, v) for c, v, _ in cpu[name])

    def ratio(name: str) -> float:
        return statistics.median(c / d for (c, _, _), (d, _, _) in zip(cpu[name], cpu["decode"], strict=True))

    def per_day(name: str) -> float:
        return statistics.median(b / v for _, v, b in cpu[name]) * DAY_S / 1e9

    per_round = "; ".join(f"{name} {', '.join(f'{_pct(c, v):.2f}' for c, v, _ in rows)}" for name, rows in cpu.items())
    gb = pkg["bytes"] / 1e9
    rows = {
        "decode baseline: CPU, % of one core at 10 fps (median)": f"{median_pct('decode'):.2f} %",
        "stream copy (demux, MP4 segments, AES-GCM, write): % of one core": f"{median_pct('copy'):.2f} %",
        "stream copy / decode baseline (median of round ratios)": f"{ratio('copy'):.3f}",
        "re-encode with a privacy mask (decode, blank, x264 veryfast CRF 23, AES-GCM, write): % of one core":
            f"{median_pct('encode+masks'):.1f} %",
        "re-encode with masks / decode baseline": f"{ratio('encode+masks'):.2f}",
        "disk per day per camera, stream copy (this H.264: QP 18, a key frame a second)": f"{per_day('copy'):.1f} GB",
        "disk per day per camera, re-encoded with masks (CRF 23)": f"{per_day('encode+masks'):.1f} GB",
        f"package: {pkg['files']} files, {gb:.2f} GB ({args.hours:g} h x 2 cameras, 60 s segments)":
            f"read once {pkg['read']:.2f} s",
        "package assembly (copy, frame count by demuxing, SHA-256, signature, ZIP) / read once":
            f"{pkg['build']:.1f} s, {pkg['build'] / pkg['read']:.1f}x",
        "package verification (`verify_package` on the ZIP: extract, SHA-256 of every file, signature) / read once":
            f"{pkg['verify']:.1f} s, {pkg['verify'] / pkg['read']:.1f}x",
    }
    goal = "met" if median_pct("copy") <= 2.0 else "NOT met"
    table = "| measure | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows.items())
    command = ".venv/bin/python bench/recording_bench.py"
    command += f" --rounds {args.rounds}" if args.rounds != 5 else ""
    command += f" --hours {args.hours:g}" if args.hours != 4 else ""
    section = (
        f"{HEADING}\n\nMachine: {machine()}, PyAV {av.__version__}. Code: {code_version()}.\n"
        f"Command: `{command} --write bench/RESULTS.md` ({time.strftime('%Y-%m-%d')}, "
        f"{time.perf_counter() - started:.0f} s; load average 1/5/15 min {load_before} before, {load_after} after).\n"
        f"Footage: `tests/data/vtest_excerpt.avi` (768x576, 10 fps, 15 s) transcoded once to H.264 by GStreamer's "
        f"x264 (constant quantiser 18, a key frame per second), as the RTSP tests serve it.\n\n{table}\n\n"
        f"**Goal: stream copy <= 2 % of a core — {goal}** ({median_pct('copy'):.2f} %).\n\n"
        f"Notes.\n\n"
        f"- {args.rounds} rounds, contenders in rotating order, each over the whole clip (15 s of video); per round "
        f"(% of one core): {per_round}.\n"
        f"- Read from the MP4 file, not a live RTSP session: the network receive and RTP depacketisation of a live "
        f"camera are not counted (`bench/rtsp_bench.py` measures reading the stream).\n"
        f"- Disk figures are encrypted bytes on disk (AES-GCM adds 20 bytes per 256 KiB); a camera's own bitrate "
        f"decides the stream-copy figure.\n"
        f"- Package times are wall-clock on a warm page cache. The manifest's frame counts are the samples demuxed "
        f"from each file; counting them by decoding every frame (OpenCV `grab()`, as before) took 3.17 s per 60 s "
        f"segment against 0.03 s by demuxing, on this machine at load average ~10: about 25 minutes for the 480 "
        f"files of 4 hours from 2 cameras.\n"
        f"- On a loaded machine every contender slows alike: compare ratios, not absolute times, across runs.\n"
    )
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
