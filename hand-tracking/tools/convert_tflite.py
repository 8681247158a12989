#!/usr/bin/env python3
"""Convert a TFLite model (MediaPipe's hand models) into safetensors weights
plus a JSON graph description that `parallax-hand-tracking` executes with
candle.

Usage: convert_tflite.py MODEL.tflite OUT_PREFIX
writes OUT_PREFIX.safetensors and OUT_PREFIX.json.

- Every constant tensor is stored under the key "t<index>" in its TFLite
  layout (conv filters OHWI, depthwise 1HWC, fully-connected [out, in]).
- DEQUANTIZE of an FP16 constant is folded: its output tensor becomes a
  constant holding the FP16 values (converted to f32 when the Rust side
  loads them), and the op is dropped.
- Each op keeps its builtin options that matter for execution (strides,
  padding, fused activation, ...). Unknown ops are an error, not skipped.

MediaPipe's models are Apache-2.0; the converted files carry that notice in
their metadata.
"""
import json
import sys

import numpy as np
import tflite
from safetensors.numpy import save_file
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.Padding import Padding
from tflite.TensorType import TensorType

OP_NAMES = {v: k for k, v in BuiltinOperator.__dict__.items() if not k.startswith("_")}
ACT_NAMES = {v: k for k, v in ActivationFunctionType.__dict__.items() if not k.startswith("_")}
PAD_NAMES = {v: k for k, v in Padding.__dict__.items() if not k.startswith("_")}
DTYPES = {
    TensorType.FLOAT32: np.float32,
    TensorType.FLOAT16: np.float16,
    TensorType.INT32: np.int32,
    TensorType.INT64: np.int64,
}
NOTICE = (
    "Converted from MediaPipe (https://github.com/google-ai-edge/mediapipe), "
    "Copyright The MediaPipe Authors, licensed under the Apache License 2.0 "
    "(http://www.apache.org/licenses/LICENSE-2.0)."
)


def options(op, name):
    """The builtin options of `op` that execution needs, as a dict."""
    table = op.BuiltinOptions()
    if table is None:
        return {}
    if name == "CONV_2D":
        o = tflite.Conv2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {
            "padding": PAD_NAMES[o.Padding()],
            "stride": [o.StrideH(), o.StrideW()],
            "dilation": [o.DilationHFactor(), o.DilationWFactor()],
            "activation": ACT_NAMES[o.FusedActivationFunction()],
        }
    if name == "DEPTHWISE_CONV_2D":
        o = tflite.DepthwiseConv2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {
            "padding": PAD_NAMES[o.Padding()],
            "stride": [o.StrideH(), o.StrideW()],
            "dilation": [o.DilationHFactor(), o.DilationWFactor()],
            "depth_multiplier": o.DepthMultiplier(),
            "activation": ACT_NAMES[o.FusedActivationFunction()],
        }
    if name in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        o = tflite.Pool2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {
            "padding": PAD_NAMES[o.Padding()],
            "stride": [o.StrideH(), o.StrideW()],
            "filter": [o.FilterHeight(), o.FilterWidth()],
            "activation": ACT_NAMES[o.FusedActivationFunction()],
        }
    if name == "ADD":
        o = tflite.AddOptions()
        o.Init(table.Bytes, table.Pos)
        return {"activation": ACT_NAMES[o.FusedActivationFunction()]}
    if name == "FULLY_CONNECTED":
        o = tflite.FullyConnectedOptions()
        o.Init(table.Bytes, table.Pos)
        return {
            "activation": ACT_NAMES[o.FusedActivationFunction()],
            "keep_num_dims": bool(o.KeepNumDims()),
        }
    if name == "CONCATENATION":
        o = tflite.ConcatenationOptions()
        o.Init(table.Bytes, table.Pos)
        return {"axis": o.Axis(), "activation": ACT_NAMES[o.FusedActivationFunction()]}
    if name == "RESIZE_BILINEAR":
        o = tflite.ResizeBilinearOptions()
        o.Init(table.Bytes, table.Pos)
        return {
            "align_corners": bool(o.AlignCorners()),
            "half_pixel_centers": bool(o.HalfPixelCenters()),
        }
    if name == "MEAN":
        o = tflite.ReducerOptions()
        o.Init(table.Bytes, table.Pos)
        return {"keep_dims": bool(o.KeepDims())}
    return {}


SUPPORTED = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "LOGISTIC",
    "MAX_POOL_2D", "PRELU", "PAD", "RESIZE_BILINEAR", "RESHAPE", "CONCATENATION",
}


def convert(path, prefix):
    buf = open(path, "rb").read()
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise SystemExit(f"{path}: {model.SubgraphsLength()} subgraphs, expected 1")
    sg = model.Subgraphs(0)

    def constant(index):
        t = sg.Tensors(index)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data is None or len(data) == 0:
            return None
        dtype = DTYPES.get(t.Type())
        if dtype is None:
            raise SystemExit(f"{path}: tensor {index} has unsupported type {t.Type()}")
        shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(shape).copy()

    weights, tensors, ops = {}, [], []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
        tensors.append({"name": t.Name().decode(), "shape": shape, "constant": False})
        value = constant(i)
        if value is not None:
            weights[f"t{i}"] = value
            tensors[i]["constant"] = True
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        inputs = [int(j) for j in op.InputsAsNumpy()]
        outputs = [int(j) for j in op.OutputsAsNumpy()]
        if name == "DEQUANTIZE":
            src = f"t{inputs[0]}"
            if src not in weights:
                raise SystemExit(f"{path}: op {i} dequantizes a non-constant tensor")
            weights[f"t{outputs[0]}"] = weights[src]
            tensors[outputs[0]]["constant"] = True
            continue
        if name not in SUPPORTED:
            raise SystemExit(f"{path}: op {i} is {name}, which the converter does not support")
        ops.append({"op": name, "inputs": inputs, "outputs": outputs, **options(op, name)})
    # Keep only constants the remaining ops read (the FP16 sources of folded
    # DEQUANTIZE ops are stored once, under the folded tensor's key).
    used = {j for op in ops for j in op["inputs"] if j >= 0}
    weights = {k: v for k, v in weights.items() if int(k[1:]) in used}
    for i, t in enumerate(tensors):
        t["constant"] = f"t{i}" in weights
    graph = {
        "source": path.split("/")[-1],
        "notice": NOTICE,
        "inputs": [int(j) for j in sg.InputsAsNumpy()],
        "outputs": [int(j) for j in sg.OutputsAsNumpy()],
        "tensors": tensors,
        "ops": ops,
    }
    with open(prefix + ".json", "w") as f:
        json.dump(graph, f, indent=1)
    save_file(weights, prefix + ".safetensors", metadata={"notice": NOTICE, "source": graph["source"]})
    print(f"{path}: {len(ops)} ops, {len(weights)} constant tensors -> {prefix}.{{json,safetensors}}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    convert(sys.argv[1], sys.argv[2])
