"""Test data for the detectors: frames of the committed footage, and tiny YOLO-shaped ONNX models built here.

The YOLO graphs ignore their image (``output = constant + 0 * sum(image)``): what is under test is the decoder
around the model, so the model must emit exactly the boxes the test chose.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
NANODET_MANIFEST = ROOT / "models" / "nanodet-g-416.manifest.json"
DATA = ROOT / "tests" / "data"
VIDEO = DATA / "vtest_excerpt.avi"
GROUND_TRUTH = DATA / "detections_ground_truth.json"

Box = tuple[float, float, float, float]


def read_frames(indices: Iterable[int]) -> dict[int, NDArray[np.uint8]]:
    """Decode the excerpt sequentially (as FOOTAGE.md made it) and keep the wanted frames."""
    wanted = set(indices)
    frames: dict[int, NDArray[np.uint8]] = {}
    capture = cv2.VideoCapture(str(VIDEO))
    try:
        index = 0
        while len(frames) < len(wanted):
            ok, frame = capture.read()
            assert ok, f"{VIDEO} ended at frame {index}, before frames {sorted(wanted - set(frames))}"
            if index in wanted:
                frames[index] = np.asarray(frame, dtype=np.uint8)
            index += 1
    finally:
        capture.release()
    return frames


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``x0, y0, x1, y1`` boxes."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def ground_truth() -> list[dict[str, Any]]:
    """The hand-checked frames of ``detections_ground_truth.json``."""
    frames: list[dict[str, Any]] = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))["frames"]
    return frames


def yolo_prediction(
    rows: Sequence[tuple[Box, Sequence[float]]], *, scale: float, pad: tuple[float, float]
) -> NDArray[np.float32]:
    """A ``[1, 4 + nc, N]`` YOLO output for source boxes placed by a letterbox of ``scale`` and ``pad``.

    Args:
        rows: Per anchor, a box in source pixels and its class scores.
        scale: Source-to-input resize ratio.
        pad: ``(pad_x, pad_y)`` of the letterbox, in input pixels.
    """
    columns = []
    for (x0, y0, x1, y1), scores in rows:
        cx, cy = (x0 + x1) / 2 * scale + pad[0], (y0 + y1) / 2 * scale + pad[1]
        columns.append([cx, cy, (x1 - x0) * scale, (y1 - y0) * scale, *scores])
    return np.asarray(columns, dtype=np.float32).T[np.newaxis]


def write_yolo_model(
    directory: Path,
    prediction: NDArray[np.float32],
    *,
    size: int = 64,
    class_names: Sequence[str] = ("person", "bicycle", "car"),
    **manifest_fields: object,
) -> Path:
    """Write ``stub.onnx`` emitting ``prediction`` for any ``[1, 3, size, size]`` image, and its manifest.

    The image feeds the output through ``0 * ReduceSum(image)`` so that the graph really has (and uses) the
    input a YOLO export has. ``manifest_fields`` override the manifest's defaults.
    """
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    output = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(prediction.shape))
    nodes = [
        helper.make_node("Constant", [], ["prediction"], value=numpy_helper.from_array(prediction, "prediction")),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0.0, np.float32), "zero")),
        helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
        helper.make_node("Add", ["prediction", "nothing"], ["output0"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "yolo_stub", [image], [output]), opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8  # old enough for any onnxruntime the project allows
    onnx.checker.check_model(model, full_check=True)
    model_path = directory / "stub.onnx"
    model_path.write_bytes(model.SerializeToString())
    manifest: dict[str, object] = {
        "file": model_path.name,
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "family": "yolo",
        "input_name": "images",
        "input_size": [size, size],
        "colour_order": "RGB",
        "scale": 1 / 255,
        "output_name": "output0",
        "class_names": list(class_names),
        **manifest_fields,
    }
    manifest_path = directory / "stub.manifest.json"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return manifest_path


def write_constant_model(
    directory: Path, stem: str, *, input_name: str, size: int, outputs: dict[str, NDArray[np.float32]]
) -> Path:
    """Write ``<stem>.onnx``: one ``[1, 3, size, size]`` input, and outputs that are the given constants.

    As in :func:`write_yolo_model`, each output is ``constant + 0 * ReduceSum(image)``, so that ONNX Runtime
    really runs a graph that uses its input. Returns the model's path; the caller writes the manifest.
    """
    image = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, size, size])
    nodes = [
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0.0, np.float32), "zero")),
        helper.make_node("ReduceSum", [input_name], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
    ]
    declared = []
    for k, (name, value) in enumerate(outputs.items()):
        nodes += [
            helper.make_node("Constant", [], [f"c{k}"], value=numpy_helper.from_array(value, f"c{k}")),
            helper.make_node("Add", [f"c{k}", "nothing"], [name]),
        ]
        declared.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    model = helper.make_model(
        helper.make_graph(nodes, f"{stem}_stub", [image], declared), opset_imports=[helper.make_opsetid("", 13)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    model_path = directory / f"{stem}.onnx"
    model_path.write_bytes(model.SerializeToString())
    return model_path
