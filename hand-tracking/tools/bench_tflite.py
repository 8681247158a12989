#!/usr/bin/env python3
"""The TFLite runtime (ai-edge-litert, XNNPACK) as the benchmark's reference,
driven by the benchmark line by line so that its runs interleave with the
candle port's (the machines are noisy: runs of one side after the other's
would compare different moments).

Usage: bench_tflite.py MODELS_DIR THREADS NAME...
Loads each model with its reference input and prints "ready". Then reads
lines: "run NAME..." invokes those models once each, in order, and prints
the milliseconds they took together (the inputs set, the invokes); "quit"
ends."""
import sys
import time

from ai_edge_litert.interpreter import Interpreter
from safetensors.numpy import load_file

models, threads = sys.argv[1], int(sys.argv[2])
loaded = {}
for name in sys.argv[3:]:
    interp = Interpreter(model_path=f"{models}/{name}.tflite", num_threads=threads)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    x = load_file(f"{models}/{name}.reference.safetensors")["input"][2:3]
    for _ in range(5):
        interp.set_tensor(inp["index"], x)
        interp.invoke()
    loaded[name] = (interp, inp["index"], x)
print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] == "quit":
        break
    sequence = [loaded[n] for n in words[1:]]
    t = time.perf_counter()
    for interp, index, x in sequence:
        interp.set_tensor(index, x)
        interp.invoke()
    print(f"{(time.perf_counter() - t) * 1000:.4f}", flush=True)
