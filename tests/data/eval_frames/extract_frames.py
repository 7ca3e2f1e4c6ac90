"""Write sampled frames of the full vtest.avi as lossless PNG (see tests/data/FOOTAGE.md, "Evaluation frames").

Usage: python tests/data/eval_frames/extract_frames.py /usr/share/doc/opencv-doc/examples/data/vtest.avi
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import cv2

#: Source frames (0-based, sequential read): every 65th from 30, spread over the 795-frame clip.
FRAMES = (30, 95, 160, 225, 290, 355, 420, 485, 550, 615, 680, 745)


def main(video: str) -> None:
    """Read the clip sequentially (no seeking) and write ``vtest_<frame>.png`` next to this script."""
    out = Path(__file__).resolve().parent
    capture = cv2.VideoCapture(video)
    index, wanted = 0, set(FRAMES)
    while wanted:
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{video} ended at frame {index}, before {sorted(wanted)}")
        if index in wanted:
            path = out / f"vtest_{index:03d}.png"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            print(path.name, hashlib.sha256(path.read_bytes()).hexdigest())
            wanted.discard(index)
        index += 1
    capture.release()


if __name__ == "__main__":
    main(sys.argv[1])
