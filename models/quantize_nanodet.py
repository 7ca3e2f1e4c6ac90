"""quantize_nanodet.py — make models/nanodet-g-416-int8.onnx from the committed fp32 model, deterministically.

NOT run by CI. The INT8 model is committed (4 MB) next to its manifest; this script documents and reproduces it,
and ``bench/detector_variants_bench.py`` calls :func:`quantize` to measure the variants it did not keep.

What it does:
  1. ONNX Runtime's pre-processing (``quant_pre_process``: ONNX shape inference and graph optimisation, no
     symbolic shapes), in a temporary folder;
  2. ``quantize_static`` in QDQ format: the **Conv** nodes only, weights int8 per tensor on 7 bits
     (``reduce_range``), activations uint8, MinMax calibration, on the detector's own input tensors of 21
     frames of the committed excerpt (``tests/data/vtest_excerpt.avi``, every 6th frame, minus any within 5
     frames of a labelled evaluation frame, so that the harness never scores the frames the ranges were taken
     on);
  3. prints the sha256 of the result, which the manifest ``models/nanodet-g-416-int8.manifest.json`` pins.

Why Conv only: quantizing every op ONNX Runtime can (Sigmoid, Concat, Resize, LeakyRelu, Pad...) destroyed the
model (no detection at all on the labelled frames); the convolutions are where the time goes, and quantizing them
alone kept F1 equal to fp32 (``bench/RESULTS.md``, "Detector variants"). Why 7-bit weights: on x86 CPUs with
AVX2 but without VNNI, ONNX Runtime's u8 x s8 kernels can saturate with full 8-bit weights; 7 bits avoid that on
every CPU, and the harness scored them as well as 8 bits (same F1, person AP50 no lower) at the same speed.

Deterministic: two runs give the same bytes (same onnxruntime, onnx and OpenCV versions: another version may
optimise or decode differently, in which case compare the harness figures, not the sha256).

Usage:  .venv/bin/python models/quantize_nanodet.py [OUT_ONNX]   (default: models/nanodet-g-416-int8.onnx)
Needs:  the dev extras (``onnx``); onnxruntime's quantization tools ship with onnxruntime.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onnxruntime.quantization import (  # type: ignore[import-untyped]  # noqa: E402
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process  # type: ignore[import-untyped]  # noqa: E402

from edge_agent.vision.detectors import load_detector  # noqa: E402
from edge_agent.vision.detectors.family import OnnxDetector  # noqa: E402

FP32_MANIFEST = ROOT / "models" / "nanodet-g-416.manifest.json"
FP32_MODEL = ROOT / "models" / "nanodet-g-416.onnx"
INT8_MODEL = ROOT / "models" / "nanodet-g-416-int8.onnx"
EXCERPT = ROOT / "tests" / "data" / "vtest_excerpt.avi"
#: Source frame of the excerpt's first frame (tests/data/FOOTAGE.md).
EXCERPT_START = 500
#: Source frames of the labelled evaluation frames (tests/data/eval_frames/), kept out of calibration.
EVAL_FRAMES = (30, 95, 160, 225, 290, 355, 420, 485, 550, 615, 680, 745)
#: Excerpt frames the ranges are calibrated on: every 6th, at least 6 frames away from any evaluation frame.
CALIBRATION_FRAMES = tuple(
    i for i in range(0, 150, 6) if all(abs(EXCERPT_START + i - e) > 5 for e in EVAL_FRAMES)
)


def calibration_tensors(frames: Sequence[int] = CALIBRATION_FRAMES) -> list[NDArray[np.float32]]:
    """The detector's own input tensors (letterbox, mean/std) of the chosen excerpt frames, decoded sequentially."""
    detector = load_detector(FP32_MANIFEST, 1)
    assert isinstance(detector, OnnxDetector)
    wanted = set(frames)
    tensors: list[NDArray[np.float32]] = []
    capture = cv2.VideoCapture(str(EXCERPT))
    index = 0
    while wanted:
        ok, image = capture.read()
        if not ok:
            raise SystemExit(f"{EXCERPT} ended at frame {index}, before {sorted(wanted)}")
        if index in wanted:
            blob, _ = detector.prepare(np.asarray(image, dtype=np.uint8))
            tensors.append(blob)
            wanted.discard(index)
        index += 1
    capture.release()
    return tensors


def quantize(out: Path, *, per_channel: bool = False, reduce_range: bool = True, conv_only: bool = True,
             tensors: Sequence[NDArray[np.float32]] | None = None) -> str:
    """Write the INT8 model to ``out`` and return its sha256.

    ``per_channel=True``, ``reduce_range=False`` (full 8-bit weights, which can saturate on AVX2 CPUs without
    VNNI) and ``conv_only=False`` (every op ONNX Runtime can quantize) are not what the committed model uses; the
    variants bench measures them too.
    """
    feed = list(calibration_tensors() if tensors is None else tensors)

    class Frames(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it: Iterator[NDArray[np.float32]] = iter(feed)

        def get_next(self) -> dict[str, NDArray[np.float32]] | None:
            blob = next(self._it, None)
            return None if blob is None else {"input_1:0": blob}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(FP32_MODEL), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(out), Frames(),
            quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"] if conv_only else None,
            per_channel=per_channel,
            reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else INT8_MODEL
    print("calibration frames (excerpt index):", list(CALIBRATION_FRAMES))
    digest = quantize(out)
    print(f"written: {out} ({out.stat().st_size:,} bytes)\nsha256: {digest}")


if __name__ == "__main__":
    main()
