#!/usr/bin/env bash
# Builds the Khronos OpenXR CTS (conformance_cli) and runs its automated cases
# against this build of the runtime. Not part of CI (a full sweep takes longer
# than CI allows); run it by hand when the runtime changes.
#
#   scripts/cts.sh build                   build the CTS into $CTS_HOME (once)
#   scripts/cts.sh run [GRAPHICS [API]]    one run: GRAPHICS vulkan2 (default),
#                                          vulkan, opengl or headless; API 1.0|1.1
#   scripts/cts.sh all                     every GRAPHICS x API, then a table
#
# What it needs (Debian 12): the packages below (installed when run as root),
# the CTS source archive and its two harness patches from the shared folder
# ($CTS_SHARED, default ../shared/cts: KhronosGroup/OpenXR-CTS at commit
# e8ed83c7753cb38a8de9158ab961adb4d646c434, release 1.1.41, Apache-2.0), and a
# release build of the runtime (built here when missing).
#
# Environment: CTS_HOME (default ~/xr-anchors), CTS_SHARED, JOBS (default
# nproc), CTS_TIMEOUT (seconds per run, default 1800), CTS_OUT (results,
# default target/cts), CTS_EXTRA_ARGS (e.g. -H for the invalid-handle mode).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CTS_HOME=${CTS_HOME:-$HOME/xr-anchors}
CTS_SHARED=${CTS_SHARED:-$ROOT/../shared/cts}
JOBS=${JOBS:-$(nproc)}
CTS_OUT=${CTS_OUT:-$ROOT/target/cts}
CTS_DIR=$CTS_HOME/build/cts/src/conformance/conformance_cli
export ANCHORS=$CTS_HOME CTS_DIR

build() {
  local pkgs=(cmake ninja-build g++ python3 python3-jinja2 pkg-config
    libvulkan-dev glslang-tools glslang-dev libgl1-mesa-dev mesa-common-dev
    libegl1-mesa-dev libx11-dev libx11-xcb-dev libxcb1-dev libxcb-dri2-0-dev
    libxcb-glx0-dev libxcb-icccm4-dev libxcb-keysyms1-dev libxcb-randr0-dev
    libxcb-xfixes0-dev libxrandr-dev libxxf86vm-dev xvfb xauth)
  PARALLAX_PACKAGES="${pkgs[*]}" source scripts/setup.sh
  local src=$CTS_HOME/src/OpenXR-CTS
  mkdir -p "$CTS_HOME/src" "$CTS_HOME/scripts"
  rm -rf "$src" "$CTS_HOME/src/unpack"
  mkdir -p "$CTS_HOME/src/unpack"
  tar -xzf "$CTS_SHARED/openxr-cts-src.tar.gz" -C "$CTS_HOME/src/unpack"
  mv "$CTS_HOME/src/unpack/OpenXR-CTS" "$src"
  rmdir "$CTS_HOME/src/unpack"
  install -m 755 "$CTS_SHARED"/run-cts.sh "$CTS_SHARED"/*.py "$CTS_HOME/scripts/"
  # The CTS's assets are Git LFS objects the archive lacks; the automated
  # cases need only the BRDF lookup table, generated here.
  python3 "$CTS_SHARED/gen-brdf-lut.py" \
    "$src/src/conformance/conformance_test/pbr_assets/brdf_lut.png" 64
  sed -i 's/^\(\s*\)FATAL_ERROR$/\1WARNING/' "$src/src/conformance/conformance_test/CMakeLists.txt"
  # The OpenGL plugin's X11 helper crashes on an X server without VidMode (Xvfb).
  python3 "$CTS_SHARED/patch-cts-gfxwrapper-vidmode.py" "$src/src/common/gfxwrapper_opengl.c"
  cmake -S "$src" -B "$CTS_HOME/build/cts" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_CONFORMANCE_TESTS=ON -DBUILD_LOADER=ON -DDYNAMIC_LOADER=ON \
    -DBUILD_TESTS=OFF -DBUILD_API_LAYERS=OFF >"$CTS_HOME/cmake.log"
  ninja -C "$CTS_HOME/build/cts" -j"$JOBS" conformance_cli >"$CTS_HOME/ninja.log"
  test -x "$CTS_DIR/conformance_cli"
  echo "CTS built: $CTS_DIR/conformance_cli"
}

manifest() {
  [ -f target/release/libparallax_openxr.so ] && [ -x target/release/parallax ] \
    || cargo build --release -p parallax-openxr -p parallax >&2
  target/release/parallax runtime manifest >/dev/null
  echo "$ROOT/target/release/parallax_openxr.json"
}

run_one() {  # GRAPHICS API
  local gfx=${1:-vulkan2} api=${2:-1.1} json
  [ -x "$CTS_DIR/conformance_cli" ] || build
  json=$(manifest)
  mkdir -p "$CTS_OUT"
  local out=$CTS_OUT/$gfx-$api${CTS_EXTRA_ARGS:+-H}
  XR_RUNTIME_JSON=$json RUNTIME_ENV=/dev/null \
    "$CTS_HOME/scripts/run-cts.sh" "$out" "$gfx" "$api" "${CTS_TIMEOUT:-1800}"
  grep -v '^pass' "$out.tsv" || true
}

case "${1:-run}" in
  build) build ;;
  run) shift || true; run_one "$@" ;;
  all)
    for gfx in vulkan2 vulkan headless opengl; do
      for api in 1.0 1.1; do run_one "$gfx" "$api"; done
    done
    for f in "$CTS_OUT"/*.tsv; do
      printf '%-28s %s\n' "$(basename "$f" .tsv)" "$(head -1 "${f%.tsv}/summary.txt")"
    done ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
