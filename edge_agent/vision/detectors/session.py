"""The ONNX Runtime session of a detector, created once and typed for the rest of the package.

This is the only module that imports ``onnxruntime`` (which ships no type information), so the untyped
surface stays in one place and the decoders see :class:`ModelSession` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
from numpy.typing import NDArray

from .errors import DetectorError
from .manifest import Shape

#: ONNX Runtime spells tensor element types like this; every detector tensor is float32.
_FLOAT = "tensor(float)"
#: Execution providers a detector may ask for, by the short name used in code and benches.
PROVIDERS = {"cpu": "CPUExecutionProvider", "openvino": "OpenVINOExecutionProvider"}


def _shape(dims: Sequence[object]) -> Shape:
    """ONNX Runtime reports symbolic dimensions (``"batch"``) as strings or ``None``; keep only numbers."""
    return tuple(dim if isinstance(dim, int) else None for dim in dims)


def _fmt(shape: Shape) -> str:
    return "[" + ", ".join("?" if dim is None else str(dim) for dim in shape) + "]"


def _compatible(actual: Shape, expected: Shape) -> bool:
    if len(actual) != len(expected):
        return False
    return all(a is None or e is None or a == e for a, e in zip(actual, expected, strict=True))


class ModelSession:
    """One ``InferenceSession`` on the CPU, with the model's declared inputs and outputs.

    Built once per detector: session creation parses and optimises the graph (tens of milliseconds to
    seconds), and a session is safe to share between threads for ``run``.
    """

    def __init__(self, model: bytes, *, threads: int = 2, source: str = "<bytes>", provider: str = "cpu") -> None:
        """Create the session.

        Args:
            model: The ONNX file's bytes, already checked against the manifest's sha256.
            threads: Intra-op threads. The box also decodes video and runs the link, so the default (2) leaves
                room for them instead of taking every core; inter-op is 1 because detector graphs are a
                single chain with nothing to run in parallel.
            source: Where the bytes came from, for error messages.
            provider: ``cpu`` (ONNX Runtime's own kernels, every build has them) or ``openvino`` (Intel's
                OpenVINO, only in the ``onnxruntime-openvino`` build, which replaces ``onnxruntime``: measured in
                ``bench/detector_variants_bench.py``, not a dependency of the box).

        Raises:
            DetectorError: ``threads`` < 1, an unknown provider or one this ONNX Runtime build lacks, or ONNX
                Runtime cannot load the model.
        """
        if threads < 1:
            raise DetectorError(f"threads must be >= 1, got {threads}")
        if provider not in PROVIDERS:
            raise DetectorError(f"unknown execution provider {provider!r}; known: {', '.join(sorted(PROVIDERS))}")
        available = ort.get_available_providers()
        if PROVIDERS[provider] not in available:
            raise DetectorError(
                f"execution provider {provider!r} ({PROVIDERS[provider]}) is not in this ONNX Runtime build; "
                f"it has {', '.join(available)}"
            )
        chosen: list[str | tuple[str, dict[str, str]]] = ["CPUExecutionProvider"]
        if provider == "openvino":
            # OpenVINO takes the whole graph or parts of it; what it declines still runs on ONNX Runtime's CPU.
            chosen.insert(0, (PROVIDERS[provider], {"device_type": "CPU", "num_of_threads": str(threads)}))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads would otherwise spin between frames, burning a core the video decoder needs; on
        # the 2-core box that also made inference slower, not faster, whenever another process was busy.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(model, sess_options=options, providers=chosen)
        # ONNX Runtime's errors (InvalidProtobuf, Fail, InvalidGraph...) share no base class but Exception.
        except Exception as exc:
            raise DetectorError(f"ONNX Runtime cannot load model {source}: {exc}") from exc
        self.source = source
        self.threads = threads
        self.provider = provider
        self.inputs: dict[str, tuple[Shape, str]] = {
            i.name: (_shape(i.shape), str(i.type)) for i in self._session.get_inputs()
        }
        self.outputs: dict[str, tuple[Shape, str]] = {
            o.name: (_shape(o.shape), str(o.type)) for o in self._session.get_outputs()
        }

    def check_io(self, inputs: Mapping[str, Shape], outputs: Mapping[str, Shape]) -> None:
        """Check that the graph has exactly the expected inputs and at least the expected outputs.

        Done at load time so that a manifest that does not describe its model fails with names and shapes,
        not on the first frame with an ONNX Runtime error deep in the vision process.

        Raises:
            DetectorError: A name is missing, or a shape or element type differs.
        """
        if set(self.inputs) != set(inputs):
            raise DetectorError(
                f"model {self.source} has inputs {sorted(self.inputs)}, the manifest expects {sorted(inputs)}"
            )
        for kind, declared, expected in (("input", self.inputs, inputs), ("output", self.outputs, outputs)):
            for name, shape in expected.items():
                if name not in declared:
                    raise DetectorError(
                        f"model {self.source} has no {kind} {name!r} named by the manifest; "
                        f"its {kind}s are {sorted(declared)}"
                    )
                actual, elem = declared[name]
                if not _compatible(actual, shape):
                    raise DetectorError(
                        f"model {self.source} {kind} {name!r} has shape {_fmt(actual)}, "
                        f"the manifest implies {_fmt(shape)}"
                    )
                if elem != _FLOAT:
                    raise DetectorError(f"model {self.source} {kind} {name!r} is {elem}, expected {_FLOAT}")

    def run(self, output_names: Sequence[str], feed: Mapping[str, NDArray[np.float32]]) -> list[NDArray[np.float32]]:
        """Run the graph once; outputs come back in the order of ``output_names``."""
        return cast(list[NDArray[np.float32]], self._session.run(list(output_names), dict(feed)))
