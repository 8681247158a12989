#!/usr/bin/env bash
# Installs the Debian 12 packages Parallax needs when they are missing (as
# root), or says exactly what to install (otherwise). Sourced by demo.sh
# and test.sh; PARALLAX_PACKAGES adds more, PARALLAX_PACKAGES_BARE more
# still, installed without their recommendations (Xorg's would bring logind).
set -euo pipefail
# cmake builds libopus (meeting voice); pkg-config and libasound2-dev the
# ALSA audio output.
pkgs=(libvulkan1 mesa-vulkan-drivers vulkan-tools libopenxr-loader1 libopenxr-dev
      libopenxr-utils fonts-dejavu-core cmake pkg-config libasound2-dev ${PARALLAX_PACKAGES:-})
bare=(${PARALLAX_PACKAGES_BARE:-})
missing=()
missing_bare=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
for p in "${bare[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing_bare+=("$p")
done
if [ $((${#missing[@]} + ${#missing_bare[@]})) -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q
    if [ ${#missing[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
    if [ ${#missing_bare[@]} -gt 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing_bare[@]}"
    fi
  else
    echo "missing Debian packages: ${missing[*]} ${missing_bare[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]} ${missing_bare[*]}" >&2
    exit 1
  fi
fi
if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust from https://rustup.rs (stable)" >&2
  exit 1
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
