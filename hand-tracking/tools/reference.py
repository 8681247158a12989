#!/usr/bin/env python3
"""Reference outputs of the TFLite runtime (PyPI `ai-edge-litert`) for the
hand models, on fixed synthetic inputs, so the Rust port can be checked
against them without Python at test time.

Usage: reference.py MODELS_DIR NAME...
reads MODELS_DIR/NAME.tflite, writes MODELS_DIR/NAME.reference.safetensors
with "input" [N, H, W, 3] and "output<k>" [N, ...] (TFLite's output order).
"""
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from safetensors.numpy import save_file


def inputs(h, w):
    """Three fixed images in [0, 1]: noise, smooth gradients, and a
    hand-like silhouette (palm disc and five finger bars) on a textured
    background."""
    rng = np.random.RandomState(1234)
    noise = rng.uniform(0.0, 1.0, (h, w, 3))
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y /= h
    x /= w
    gradients = np.stack(
        [x, y, 0.5 + 0.5 * np.sin(6.0 * np.pi * x * y)], axis=-1
    )
    hand = np.stack([0.2 + 0.1 * x, 0.3 + 0.1 * y, 0.35 + 0.05 * np.cos(20 * x)], axis=-1)
    skin = np.array([0.86, 0.64, 0.52])
    palm = (x - 0.5) ** 2 + (y - 0.62) ** 2 < 0.04
    hand[palm] = skin
    for k, (fx, top) in enumerate([(0.30, 0.48), (0.40, 0.18), (0.50, 0.12), (0.60, 0.16), (0.70, 0.26)]):
        bar = (np.abs(x - fx) < 0.035) & (y > top) & (y < 0.62)
        hand[bar] = skin * (0.95 - 0.04 * k)
    return np.stack([noise, gradients, hand]).astype(np.float32)


def run(models, name):
    interp = Interpreter(model_path=f"{models}/{name}.tflite")
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    _, h, w, _ = inp["shape"]
    images = inputs(h, w)
    outs = interp.get_output_details()
    results = [[] for _ in outs]
    for image in images:
        interp.set_tensor(inp["index"], image[None])
        interp.invoke()
        for k, o in enumerate(outs):
            results[k].append(interp.get_tensor(o["index"])[0].copy())
    tensors = {"input": images}
    for k, r in enumerate(results):
        tensors[f"output{k}"] = np.stack(r).astype(np.float32)
    save_file(tensors, f"{models}/{name}.reference.safetensors")
    print(f"{name}: reference for {len(images)} inputs, outputs {[t.shape for t in tensors.values()]}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    for n in sys.argv[2:]:
        run(sys.argv[1], n)
