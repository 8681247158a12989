#!/usr/bin/env bash
# The demo command: installs what is missing (Debian 12), builds in
# release mode and runs `parallax demo`: the showcase app on the simulated
# headset through the loader, runtime and compositor. With a display it
# opens the desktop simulator window; without one it runs headless for a
# bounded time and writes frames and a timing plot (it prints where).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release -p parallax -p parallax-openxr -p parallax-example-layers
exec target/release/parallax demo "$@"
