#!/usr/bin/env bash
# Fetches MediaPipe's hand models and its face landmark model (Apache-2.0)
# from the pinned PyPI wheel mediapipe==0.10.14, checks their SHA-256,
# converts them to safetensors +
# graph JSON for parallax-hand-tracking, and records the TFLite runtime's
# outputs on fixed inputs (the reference the Rust port is tested against).
# Everything lands in hand-tracking/models/ (not committed). Nothing is
# downloaded at run time; the Python tools live in a venv under target/.
set -euo pipefail
cd "$(dirname "$0")/.."

out=hand-tracking/models
mkdir -p "$out"
declare -A sha=(
  [hand_landmark_full]=11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3
  [hand_landmark_lite]=048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6
  [palm_detection_full]=1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54
  [palm_detection_lite]=e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18
  [face_landmark]=1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814
)

complete=1
for m in "${!sha[@]}"; do
  for f in "$out/$m.tflite" "$out/$m.json" "$out/$m.safetensors" "$out/$m.reference.safetensors"; do
    [ -s "$f" ] || complete=0
  done
done
if [ "$complete" = 1 ]; then
  echo "hand models: already in $out"
  exit 0
fi

venv=target/hand-tools-venv
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2
    exit 1
  fi
fi
"$venv/bin/pip" install -q --disable-pip-version-check \
  numpy==2.4.6 safetensors==0.8.0 tflite==2.18.0 flatbuffers==25.12.19 ai-edge-litert==2.3.0

wheel_dir=target/hand-tools-wheel
mkdir -p "$wheel_dir"
"$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --platform manylinux_2_17_x86_64 mediapipe==0.10.14 -d "$wheel_dir"
wheel=$(ls "$wheel_dir"/mediapipe-0.10.14-*.whl)
"$venv/bin/python" - "$wheel" "$out" <<'PY'
import sys, zipfile, os
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if (n.startswith(("mediapipe/modules/hand_landmark/", "mediapipe/modules/palm_detection/")) and n.endswith(".tflite")) \
                or n == "mediapipe/modules/face_landmark/face_landmark.tflite":
            with open(os.path.join(out, os.path.basename(n)), "wb") as f:
                f.write(z.read(n))
PY
for m in "${!sha[@]}"; do
  echo "${sha[$m]}  $out/$m.tflite" | sha256sum -c --quiet - || {
    echo "SHA-256 of $out/$m.tflite does not match: refusing it" >&2
    rm -f "$out/$m.tflite"
    exit 1
  }
  "$venv/bin/python" hand-tracking/tools/convert_tflite.py "$out/$m.tflite" "$out/$m"
done
"$venv/bin/python" hand-tracking/tools/reference.py "$out" "${!sha[@]}" 2>&1 | grep -v "^INFO\|^W0000\|^WARNING" || true
cp hand-tracking/tools/MODELS-NOTICE "$out/NOTICE"
echo "hand models: ready in $out"
