#!/usr/bin/env bash
# The test command: installs what is missing (Debian 12), builds, runs every
# test, then runs real OpenXR clients against the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(libvulkan1 mesa-vulkan-drivers vulkan-tools libopenxr-loader1 libopenxr-dev libopenxr-utils binutils xvfb xauth)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
export CARGO_TERM_COLOR=never

cargo build --workspace --all-targets
cargo test --workspace

echo "== real clients"
cfg=$(mktemp -d)
XDG_CONFIG_HOME="$cfg" target/debug/parallax runtime install
XDG_CONFIG_HOME="$cfg" openxr_runtime_list | tee /tmp/parallax_runtime_list.txt
grep -q "Parallax" /tmp/parallax_runtime_list.txt
timeout 120 target/debug/parallax run -- target/debug/parallax-example-headless --frames 300
PARALLAX_EXIT_AFTER_FRAMES=60 timeout 60 target/debug/parallax run -- target/debug/parallax-example-headless --frames 100000
echo "real clients: 3 passed, 0 failed"
