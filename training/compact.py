"""Store ONNX weights as FP16 with a Cast to FP32 in front: half the file, the same FP32 arithmetic.

ONNX Runtime folds the Casts into FP32 constants when it loads the model, so inference speed and numerics stay
those of FP32 up to the FP16 rounding of each weight (relative error < 1e-3). This keeps the shipped engines
small enough to travel with the repository (and to a rented GPU machine, whose upload is capped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MIN_ELEMENTS = 1024  # small tensors (biases, shapes) stay FP32: no gain, and some are used as shapes


def compact_onnx(path: Path, out: Path | None = None) -> Path:
    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    kept = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < MIN_ELEMENTS:
            kept.append(init)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), f"{init.name}__fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                      name=f"{init.name}__cast"))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)  # Casts first: the graph must stay topologically sorted
    out = out or path
    onnx.save(model, str(out))
    return out


def expand_onnx(path: Path, out: Path) -> Path:
    """Undo `compact_onnx` (FP32 initializers again), for tools such as quantizers that look for weights."""
    model = onnx.load(str(path))
    graph = model.graph
    halves = {i.name: i for i in graph.initializer if i.name.endswith("__fp16")}
    casts = [n for n in graph.node if n.op_type == "Cast" and n.input and n.input[0] in halves]
    restored = [numpy_helper.from_array(numpy_helper.to_array(halves[n.input[0]]).astype(np.float32), n.output[0])
                for n in casts]
    kept = [i for i in graph.initializer if i.name not in halves]
    del graph.initializer[:]
    graph.initializer.extend(kept + restored)
    cast_names = {n.name for n in casts}
    nodes = [n for n in graph.node if n.name not in cast_names]
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(out))
    return out
