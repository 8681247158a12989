#!/usr/bin/env python3
"""Median time per inference of the TFLite runtime (ai-edge-litert, XNNPACK)
on the reference inputs, for comparison with the candle port in the same
benchmark run. Usage: bench_tflite.py MODELS_DIR THREADS RUNS NAME...
Prints one line per model: NAME median_ms p90_ms."""
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from safetensors.numpy import load_file

models, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name in sys.argv[4:]:
    interp = Interpreter(model_path=f"{models}/{name}.tflite", num_threads=threads)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    x = load_file(f"{models}/{name}.reference.safetensors")["input"][2:3]
    for _ in range(5):
        interp.set_tensor(inp["index"], x)
        interp.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"{name} {times[len(times) // 2]:.3f} {times[int(len(times) * 0.9)]:.3f}")
