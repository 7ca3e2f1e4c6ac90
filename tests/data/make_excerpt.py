#!/usr/bin/env python3
"""Make tests/data/vtest_excerpt.avi from OpenCV's sample clip vtest.avi.

One-off tool, not run by CI (the excerpt is committed; see tests/data/FOOTAGE.md).

Source: Debian package `opencv-doc`, /usr/share/doc/opencv-doc/examples/data/vtest.avi
(768x576, 10 fps, 795 frames, MP43). Takes frames START..END inclusive (0-based, as
counted by sequential cv2.VideoCapture.read()), keeps the size and the 10 fps, and
re-encodes them with OpenCV's VideoWriter, FourCC 'mp4v' (MPEG-4 Part 2) in an AVI
container, which opencv-python-headless reads back. The re-encode is lossy (mean abs
pixel difference ~3/255 against the decoded source) and its bytes depend on the
OpenCV/FFmpeg build: the committed file and its sha256 in FOOTAGE.md are the reference.

Usage:
    apt-get install -y opencv-doc
    python tests/data/make_excerpt.py            # defaults below
    python tests/data/make_excerpt.py --start 500 --end 649 --out tests/data/vtest_excerpt.avi
Needs: numpy, opencv-python-headless (made with 5.0.0.93 / numpy 2.4.6).
"""
import argparse
import hashlib
import os
import sys

import cv2

SRC = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=SRC)
    ap.add_argument("--start", type=int, default=500, help="first source frame (inclusive)")
    ap.add_argument("--end", type=int, default=649, help="last source frame (inclusive)")
    ap.add_argument("--out", default=os.path.join(HERE, "vtest_excerpt.avi"))
    ap.add_argument("--fourcc", default="mp4v")
    a = ap.parse_args()

    cap = cv2.VideoCapture(a.src)
    if not cap.isOpened():
        print(f"cannot open {a.src} (apt-get install opencv-doc)", file=sys.stderr)
        return 1
    fps = cap.get(cv2.CAP_PROP_FPS)
    w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(a.out, cv2.VideoWriter_fourcc(*a.fourcc), fps, (w, h))
    if not writer.isOpened():
        print(f"cannot open writer for {a.out} with {a.fourcc}", file=sys.stderr)
        return 1

    # Read sequentially (no seeking) so frame numbers are exact.
    idx = written = 0
    while idx <= a.end:
        ok, frame = cap.read()
        if not ok:
            break
        if idx >= a.start:
            writer.write(frame)
            written += 1
        idx += 1
    writer.release()
    cap.release()

    back = cv2.VideoCapture(a.out)
    n = 0
    while back.read()[0]:
        n += 1
    expected = a.end - a.start + 1
    with open(a.out, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    print(f"source frames {a.start}..{a.end} of {a.src}")
    print(f"written {written}, read back {n}, {w}x{h} @ {fps:g} fps, fourcc {a.fourcc}")
    print(f"{os.path.getsize(a.out)} bytes  sha256 {sha}  {a.out}")
    print(f"opencv {cv2.__version__}")
    return 0 if written == n == expected else 2


if __name__ == "__main__":
    sys.exit(main())
