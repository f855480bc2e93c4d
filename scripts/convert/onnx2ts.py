#!/usr/bin/python3
"""Convert an ONNX model into a TorchScript file that LibTorch (vfm's runner) can load.

Usage:
  onnx2ts.py IN.onnx OUT.pt [--input-shape 1,3,416,416] [--check] [--input-range [NAME=]LO,HI]
                            [--input-values NAME=V1,V2,...] [--reference auto|opencv|ort]
                            [--seed 0] [--threads 2] [--quiet]

How: the graph is read with the `onnx` package and evaluated node by node by a torch.nn.Module
whose op table (onnx_ops.py, beside this file) maps each ONNX op type to a torch implementation
honouring its attributes and the model's opset. Initializers become buffers. Nodes whose inputs
are all constant (initializers, Constant nodes, and what is computed from them only) are folded
once at conversion time. The module is then run once under torch.jit.trace on a sample input of
the graph's declared input shape (dynamic dims replaced by --input-shape; repeat the option for
a graph with several inputs) and saved with torch.jit.save.

The TorchScript module takes the same inputs as the ONNX graph, in the same layout (NCHW for
most exports; NHWC for tf2onnx exports such as BlazeFace or BodyPix -- nothing is transposed)
and returns the same outputs in the same order (one tensor, or a tuple when there are several).
It is SPECIALISED TO THE TRACED INPUT SIZE wherever the graph derives values from the input's
shape (Shape -> Gather -> Reshape chains, auto_pad SAME, Resize paths that use index tables,
Slice with negative steps): those are constants of the trace. Graphs whose shape arguments are
all constants (YOLOX's Reshape [1,85,-1], scale-based Resize) may work at other sizes, but only
the traced size is checked.

Shapes computed from input VALUES (not shapes) -- SAM's decoder crops and resizes its masks to
the orig_im_size input -- are followed at run time where the trace can record them: Slice
starts/ends (positive steps) and Resize `sizes` (linear or cubic, half_pixel or align_corners,
spatial axes only) that depend on input data become run-time values, and Shape of a tensor whose
shape so depends reads it at run time. The converter tracks which values depend on input data to
decide this; everything else computed from input values as a shape (Reshape, Expand,
ConstantOfShape, Range, ...) is frozen, which the retrace check below reports. Factory ops (zeros, arange, index tables) follow the input's device,
so the file runs on CPU or CUDA. The file carries extra_files["onnx2ts.json"] (source, sha256,
inputs, outputs, opset).

--check runs one random input (fixed seed; uniform in --input-range, by default -1..1 for
tf2onnx exports and 0..255 for 3-channel image inputs of other exporters, else 0..1; integer
and bool inputs are zeros unless given a range or values) through
the saved TorchScript file and through a reference: OpenCV DNN (cv2.dnn.readNetFromONNX) when
it imports and runs the graph, else onnxruntime through Node.js (npm `onnxruntime-node`,
installed with --ignore-scripts into $VFM_NPM_CACHE, default /tmp/vfm-npm; its CPU build is
enough). It prints one JSON line: per output the shape, max |difference|, the reference
output's range (max - min) and ratio = max diff / range; the check passes when every ratio is
<= 1e-4. Exit status 1 when it fails.

Per-input values (repeat the options; NAME is a graph input's name), for graphs whose inputs are
not all images -- e.g. the SAM decoder:
  --input-range NAME=LO,HI      uniform in [LO, HI) for float inputs, integers in [LO, HI] for
                                integer inputs (bool: 0/1)
  --input-values NAME=V1,V2,... every element drawn from the listed values (labels, flags);
                                one value fixes the input
Per-input values are used for the tracing sample, the retrace check's input and the --check
input alike (a graph whose shapes follow an input's values needs sensible values to trace at
all); an --input-range without NAME= applies to the other inputs of the --check input only, as
before (tracing and the retrace check draw those from 0..1). Example, SAM decoder:
  onnx2ts.py sam_decoder.onnx dec.pt --input-shape 1,256,64,64 --input-shape 1,5,2 \
      --input-shape 1,5 --input-shape 1,1,256,256 --input-shape 1 --input-shape 2 \
      --input-range image_embeddings=-1,1 --input-range point_coords=0,1024 \
      --input-values point_labels=-1,0,1,2,3 --input-range mask_input=-8,8 \
      --input-range orig_im_size=200,2000 --check --reference ort

Errors (unreadable or truncated file, unsupported op, conversion failure): one line on stderr,
  error: onnx2ts: MODEL.onnx: unsupported ONNX op 'TopK' (node NAME)
exit status 2, and nothing at OUT (the file is written under a temporary name in the same folder
and renamed when complete; with --check, only when the check passes). Before that the saved file
is reloaded and run on a second random input against the eager graph module, which catches
graphs whose shapes depend on input values (a trace would freeze them).

Runs on Debian's /usr/bin/python3 (torch, onnx, numpy; cv2 for the check).
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

PROG = "onnx2ts"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts

TOLERANCE = 1e-4
FOLD_LIMIT = 1 << 22  # elements: larger constant-folded results are recomputed at run time


class ConvertError(Exception):
    """Reported as `error: onnx2ts: MODEL: message`, exit status 2."""


def fail(model, msg):
    raise ConvertError("%s: %s" % (model, msg))


# ---------------------------------------------------------------------------------------------
# loading and validating the ONNX file
# ---------------------------------------------------------------------------------------------

def load_model(path):
    import onnx
    if not os.path.isfile(path):
        fail(path, "no such file")
    try:
        model = onnx.load(path)
    except Exception as e:  # DecodeError for truncated / corrupt protobuf, OSError, ...
        fail(path, "cannot read ONNX model (truncated or corrupt file?): %s: %s"
             % (type(e).__name__, first_line(e)))
    g = model.graph
    if not g.node or not g.output:
        fail(path, "not a usable ONNX model (empty graph; truncated or corrupt file?)")
    # every node input must be produced earlier (ONNX graphs are topologically sorted)
    known = {i.name for i in g.input} | {t.name for t in g.initializer}
    for node in g.node:
        for name in node.input:
            if name and name not in known:
                fail(path, "node %s (%s) reads %r, which nothing defines (truncated or corrupt file?)"
                     % (node_label(node, None), node.op_type, name))
        known.update(node.output)
    for o in g.output:
        if o.name not in known:
            fail(path, "graph output %r is never computed (truncated or corrupt file?)" % o.name)
    return model


def first_line(e):
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def node_label(node, index):
    if node.name:
        return node.name
    return "#%d" % index if index is not None else "<unnamed>"


def default_opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def check_ops(model, path):
    from onnx_ops import OPS
    for i, node in enumerate(model.graph.node):
        supported = node.domain in ("", "ai.onnx") and node.op_type in OPS
        if not supported:
            name = node.op_type if node.domain in ("", "ai.onnx") else "%s.%s" % (node.domain, node.op_type)
            fail(path, "unsupported ONNX op '%s' (node %s)" % (name, node_label(node, i)))


def graph_inputs(model):
    """[(name, elem_type, dims with None for dynamic)] of the inputs that are not initializers."""
    inits = {t.name for t in model.graph.initializer}
    out = []
    for i in model.graph.input:
        if i.name in inits:
            continue
        tt = i.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        out.append((i.name, tt.elem_type, dims))
    return out


def parse_shape(text):
    try:
        dims = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        dims = []
    if not dims or any(d <= 0 for d in dims):
        raise ConvertError("bad --input-shape %r (expected e.g. 1,3,416,416)" % text)
    return dims


def sample_shapes(model, path, shape_args, quiet):
    ins = graph_inputs(model)
    if not ins:
        fail(path, "the graph has no inputs")
    if shape_args and len(shape_args) > len(ins):
        fail(path, "%d --input-shape given for %d graph inputs" % (len(shape_args), len(ins)))
    shapes = []
    for k, (name, _, dims) in enumerate(ins):
        if shape_args and k < len(shape_args):
            s = parse_shape(shape_args[k])
            if len(s) != len(dims) and dims:
                fail(path, "--input-shape %s has rank %d, input %r has rank %d"
                     % (shape_args[k], len(s), name, len(dims)))
            fixed = [(a, b) for a, b in zip(dims, s) if a is not None and a != b]
            if fixed and not quiet:
                print("%s: note: input %r declares %s, tracing with %s"
                      % (PROG, name, fmt_dims(dims), s), file=sys.stderr)
            shapes.append(s)
        else:
            if any(d is None for d in dims):
                fail(path, "input %r has dynamic dims %s; give --input-shape" % (name, fmt_dims(dims)))
            shapes.append(list(dims))
    return ins, shapes


def fmt_dims(dims):
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


# ---------------------------------------------------------------------------------------------
# the graph module
# ---------------------------------------------------------------------------------------------

def build_module(model, path):
    import onnx
    import torch
    from onnx import numpy_helper
    from onnx_ops import OpError, to_torch, OPS

    class NodeFailure(Exception):
        pass

    class Node:
        """One ONNX node: attributes parsed once, called with tensors at run time."""

        def __init__(self, proto, index, opset):
            self.op_type = proto.op_type
            self.name = node_label(proto, index)
            self.inputs = list(proto.input)
            self.outputs = list(proto.output)
            self.nout = len(self.outputs)
            self.opset = opset
            self.fn = OPS[proto.op_type]
            self.dev = torch.device("cpu")
            # per input: its values / its shape depend on the graph inputs' data (see
            # OnnxGraph: data_dependence); ops that take shapes from values (Slice, Resize, Shape)
            # then keep them as run-time values instead of trace constants
            self.dyn = [False] * len(self.inputs)
            self.dyn_shape = [False] * len(self.inputs)
            self.attrs = {}
            for a in proto.attribute:
                v = onnx.helper.get_attribute_value(a)
                if a.type == onnx.AttributeProto.TENSOR:
                    v = numpy_helper.to_array(v)
                elif a.type == onnx.AttributeProto.STRING:
                    v = v.decode("utf-8", "replace")
                elif a.type == onnx.AttributeProto.STRINGS:
                    v = [s.decode("utf-8", "replace") for s in v]
                elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                    raise ConvertError("%s: node %s (%s): sub-graph attributes are not supported"
                                       % (path, self.name, self.op_type))
                self.attrs[a.name] = v

        def a(self, key, default=None):
            return self.attrs.get(key, default)

        def run(self, args, dev):
            self.dev = dev
            try:
                out = self.fn(self, *args)
            except ConvertError:
                raise
            except Exception as e:
                kind = "" if isinstance(e, OpError) else type(e).__name__ + ": "
                raise NodeFailure("node %s (%s): %s%s" % (self.name, self.op_type, kind, first_line(e)))
            outs = [out] if isinstance(out, torch.Tensor) else list(out)
            if len(outs) < len([o for o in self.outputs if o]):
                raise NodeFailure("node %s (%s): %d outputs requested, %d computed"
                                  % (self.name, self.op_type, self.nout, len(outs)))
            return outs

    class OnnxGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = model.graph
            opset = default_opset(model)
            self.input_names = [n for n, _, _ in graph_inputs(model)]
            self.output_names = [o.name for o in g.output]
            static = {}
            for t in g.initializer:
                try:
                    static[t.name] = to_torch(numpy_helper.to_array(t))
                except Exception as e:
                    fail(path, "initializer %r: %s (truncated or corrupt file?)" % (t.name, first_line(e)))
            for name in self.input_names:  # a graph input overrides an initializer default
                static.pop(name, None)
            self.steps = []
            cpu = torch.device("cpu")
            with torch.no_grad():
                for i, proto in enumerate(g.node):
                    node = Node(proto, i, opset)
                    if all(not n or n in static for n in node.inputs):
                        # constant folding: evaluate now, keep small results as constants
                        outs = node.run([static[n] if n else None for n in node.inputs], cpu)
                        if sum(t.numel() for t in outs) <= FOLD_LIMIT:
                            for name, t in zip(node.outputs, outs):
                                if name:
                                    static[name] = t
                            continue
                    self.steps.append(node)
            data_dependence(self.steps, self.input_names)
            # constants the run-time steps (or the outputs) read become buffers
            needed = [n for st in self.steps for n in st.inputs if n in static] + \
                     [n for n in self.output_names if n in static]
            self.consts = []
            by_id = {}  # folded Identity / Reshape results may share storage: one buffer each
            for name in dict.fromkeys(needed):
                t = static[name]
                key = (t.data_ptr(), t.dtype, tuple(t.shape), tuple(t.stride()))
                if key not in by_id or t.numel() == 0:
                    by_id[key] = "c%d" % len(by_id)
                    self.register_buffer(by_id[key], t.clone(memory_format=torch.contiguous_format))
                self.consts.append((name, by_id[key]))
            # drop intermediate values after their last use
            last = {}
            for k, st in enumerate(self.steps):
                for n in st.inputs:
                    last[n] = k
            keep = set(self.output_names)
            for k, st in enumerate(self.steps):
                st.release = [n for n in dict.fromkeys(st.inputs) if n and last.get(n) == k and n not in keep]
            self.folded = len(g.node) - len(self.steps)

        def forward(self, *xs):
            dev = xs[0].device
            env = {name: getattr(self, attr) for name, attr in self.consts}
            env.update(zip(self.input_names, xs))
            for st in self.steps:
                outs = st.run([env[n] if n else None for n in st.inputs], dev)
                for name, t in zip(st.outputs, outs):
                    if name:
                        env[name] = t
                for n in st.release:
                    env.pop(n, None)
            res = [env[n] for n in self.output_names]
            return res[0] if len(res) == 1 else tuple(res)

    try:
        return OnnxGraph(), NodeFailure
    except NodeFailure as e:
        fail(path, str(e))


# Inputs (by position) of the ops whose OUTPUT SHAPE is given by those inputs' values.
SHAPE_ARGS = {
    "Reshape": (1,), "Expand": (1,), "ConstantOfShape": (0,), "Range": (0, 1, 2), "Tile": (1,),
    "Slice": (1, 2, 3, 4), "Pad": (1, 3), "Resize": (1, 2, 3), "Upsample": (1,), "Split": (1,),
    "Squeeze": (1,), "Unsqueeze": (1,), "NonZero": (0,), "TopK": (1,), "OneHot": (1,),
    "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,), "ReduceProd": (1,),
    "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSum": (1,), "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,), "Compress": (1,), "CenterCropPad": (1,), "Col2Im": (1, 2),
}


def data_dependence(steps, input_names):
    """Marks, on each run-time node, which inputs hold values computed from the graph inputs'
    DATA (n.dyn) and which have a shape that depends on such values (n.dyn_shape). Shapes of the
    graph inputs themselves are trace constants, so Shape / Size of a tensor are data-dependent
    only when its shape is."""
    dyn, dyn_shape = set(input_names), set()
    for st in steps:
        st.dyn = [bool(n) and n in dyn for n in st.inputs]
        st.dyn_shape = [bool(n) and n in dyn_shape for n in st.inputs]
        shaped = any(st.dyn_shape) or any(k < len(st.dyn) and st.dyn[k] for k in SHAPE_ARGS.get(st.op_type, ()))
        if st.op_type in ("Shape", "Size"):
            valued, shaped = any(st.dyn_shape), False
        else:
            valued = any(st.dyn) or shaped
        for name in st.outputs:
            if name and valued:
                dyn.add(name)
            if name and shaped:
                dyn_shape.add(name)


def device_neutral(traced):
    """torch.jit.trace records the device of factory ops (zeros, arange, tensor(...)) as the
    constant "cpu"; make them follow the first input's device instead."""
    import torch
    g = traced.graph
    consts = [n for n in g.findAllNodes("prim::Constant")
              if n.outputsSize() == 1 and isinstance(n.output().type(), torch._C.DeviceObjType)]
    if not consts:
        return 0
    x = list(g.inputs())[1]
    dev = g.create("prim::device", [x])
    dev.output().setType(torch._C.DeviceObjType.get())
    dev.insertBefore(next(iter(g.nodes())))
    for c in consts:
        c.output().replaceAllUsesWith(dev.output())
        c.destroy()
    return len(consts)


def tidy(traced):
    """Make factory ops device-neutral and drop reads of constants that only fed shape
    computations (dead after tracing)."""
    import torch
    device_neutral(traced)
    torch._C._jit_pass_dce(traced.graph)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_torchscript(model, path, ins, shapes, seed=0, sample=None, specs=None):
    """Build the graph module and trace it on a sample input of `shapes` (or on `sample`, a
    list of arrays); `specs`: per-input value specs (see parse_specs)."""
    import torch
    module, NodeFailure = build_module(model, path)
    module.eval()
    drawn = sample is None
    if sample is None:
        rng = np.random.default_rng(seed)
        sample = [make_input(et, s, rng, (0.0, 1.0), (specs or {}).get(n))
                  for (n, et, _), s in zip(ins, shapes)]
    sample = [torch.from_numpy(a) for a in sample]
    with torch.no_grad(), warnings.catch_warnings():
        # shape computations read as Python numbers are meant to be trace constants
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(module, tuple(sample), check_trace=False)
        except NodeFailure as e:
            hint = ""
            if drawn and len(specs or {}) < len(ins):
                hint = (" (tracing drew the inputs without --input-range NAME=LO,HI / "
                        "--input-values NAME=... from 0..1; inputs whose values set shapes need "
                        "sensible values)")
            fail(path, str(e) + hint)
        except ConvertError:
            raise
        except Exception as e:
            fail(path, "torch.jit.trace failed: %s: %s" % (type(e).__name__, first_line(e)))
    tidy(traced)
    return traced, module


def convert(args):
    import torch
    t0 = time.time()
    path = args.model
    model = load_model(path)
    check_ops(model, path)
    ins, shapes = sample_shapes(model, path, args.input_shape, args.quiet)
    for name, et, _ in ins:
        if et not in (1, 10, 11, 7, 6, 9):
            fail(path, "input %r has ONNX element type %d, which is not supported" % (name, et))
    specs = parse_specs(path, ins, args)
    traced, module = to_torchscript(model, path, ins, shapes, args.seed, specs=specs)
    meta = {
        "source": os.path.basename(path), "sha256": sha256(path), "opset": default_opset(model),
        "producer": "%s %s" % (model.producer_name, model.producer_version),
        "inputs": [{"name": n, "shape": s} for (n, _, _), s in zip(ins, shapes)],
        "outputs": module.output_names, "converter": "scripts/convert/onnx2ts.py",
    }
    out = os.path.abspath(args.out)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".tmp", dir=os.path.dirname(out))
        os.close(fd)
    except OSError as e:
        fail(path, "cannot write %s: %s" % (args.out, first_line(e)))
    try:
        torch.jit.save(traced, tmp, _extra_files={"onnx2ts.json": json.dumps(meta)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
    except Exception as e:
        os.unlink(tmp)
        fail(path, "cannot write %s: %s" % (args.out, first_line(e)))
    try:
        retrace_check(module, tmp, ins, shapes, args.seed, path, specs)
    except BaseException:
        os.unlink(tmp)
        raise
    seconds = time.time() - t0
    ops = sorted({n.op_type for n in model.graph.node})
    summary = "%s -> %s: %d nodes (%d folded), opset %d, %.2f s" % (
        path, args.out, len(model.graph.node), module.folded, default_opset(model), seconds)
    return tmp, summary, (model, ins, shapes, seconds, ops, specs)


def retrace_check(module, saved, ins, shapes, seed, path, specs=None):
    """Run the saved file and the eager graph module on another random input: they differ when
    the graph derives shapes or control values from the input's DATA (not only its shape),
    which a trace freezes."""
    import torch
    rng = np.random.default_rng(seed + 1)
    feeds = [torch.from_numpy(make_input(et, s, rng, (0.0, 1.0), (specs or {}).get(n)))
             for (n, et, _), s in zip(ins, shapes)]
    try:
        ts = torch.jit.load(saved)
        with torch.no_grad():
            got, want = ts(*feeds), module(*feeds)
    except Exception as e:
        fail(path, "the saved TorchScript does not run: %s: %s" % (type(e).__name__, first_line(e)))
    got = [got] if isinstance(got, torch.Tensor) else list(got)
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    for name, g, w in zip(module.output_names, got, want):
        rec = compare(name, g.double().numpy(), w.double().numpy())
        if "ref_shape" in rec or not rec["ratio"] <= TOLERANCE / 10:
            fail(path, "output %r of the trace does not follow the input data (the graph computes "
                       "shapes or indices from input values, which tracing freezes)" % name)


# ---------------------------------------------------------------------------------------------
# --check
# ---------------------------------------------------------------------------------------------

INPUT_DTYPES = {1: np.float32, 10: np.float16, 11: np.float64, 7: np.int64, 6: np.int32, 9: np.bool_}


def make_input(elem_type, shape, rng, rng_range, spec=None):
    """Random input: `spec` (per input, from parse_specs) is ("values", [v, ...]) or
    ("range", lo, hi); without one, floats are uniform in rng_range, integers/bools zero."""
    dtype = INPUT_DTYPES[elem_type]
    if spec is not None and spec[0] == "values":
        return np.asarray(rng.choice(np.asarray(spec[1], np.float64), size=shape)).astype(dtype)
    if elem_type in (1, 10, 11):
        lo, hi = rng_range if spec is None else spec[1:]
        return rng.uniform(lo, hi, size=shape).astype(dtype)
    if spec is not None:
        lo, hi = int(math.ceil(spec[1])), int(math.floor(spec[2]))
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
    return np.zeros(shape, dtype=dtype)


def parse_specs(path, ins, args):
    """--input-range NAME=LO,HI and --input-values NAME=V,... -> {name: spec}; checks the
    names against the graph's inputs. The unnamed --input-range is not a spec (see check)."""
    names = [n for n, _, _ in ins]
    specs = {}
    items = [("range", t) for t in (args.input_range or []) if "=" in t] + \
            [("values", t) for t in (getattr(args, "input_values", None) or [])]
    for kind, text in items:
        opt = "--input-" + kind
        name, _, vals = text.rpartition("=")
        if not name:
            raise ConvertError("bad %s %r (expected NAME=%s)" % (opt, text, "LO,HI" if kind == "range" else "V1,V2,..."))
        if name not in names:
            fail(path, "%s %s: the graph has no input %r (inputs: %s)" % (opt, text, name, ", ".join(names)))
        if name in specs:
            fail(path, "input %r is given more than one --input-range / --input-values" % name)
        try:
            v = [float(x) for x in vals.split(",") if x.strip()]
        except ValueError:
            v = []
        if kind == "range":
            if len(v) != 2 or not v[0] <= v[1]:
                raise ConvertError("bad --input-range %r (expected NAME=LO,HI with LO <= HI)" % text)
            if INPUT_DTYPES.get(dict((n, et) for n, et, _ in ins)[name]) not in (np.float16, np.float32, np.float64) \
                    and math.ceil(v[0]) > math.floor(v[1]):
                raise ConvertError("bad --input-range %r: no integer in [LO, HI] for an integer input" % text)
            specs[name] = ("range", v[0], v[1])
        else:
            if not v:
                raise ConvertError("bad --input-values %r (expected NAME=V1,V2,...)" % text)
            specs[name] = ("values", v)
    return specs


def global_range(args):
    """The unnamed --input-range LO,HI (the last one given), or None."""
    plain = [t for t in (args.input_range or []) if "=" not in t]
    if not plain:
        return None
    try:
        lo, hi = (float(v) for v in plain[-1].split(","))
    except ValueError:
        raise ConvertError("bad --input-range %r (expected LO,HI or NAME=LO,HI)" % plain[-1])
    return (lo, hi)


def default_range(model, shapes):
    if model.producer_name.startswith("tf2onnx"):
        return (-1.0, 1.0)
    s = shapes[0]
    if len(s) == 4 and (s[1] == 3 or s[3] == 3):
        return (0.0, 255.0)
    return (0.0, 1.0)


OPENCV_RUNNER = r"""
import sys, numpy as np, cv2
cv2.setNumThreads(2)
model, work, n_in = sys.argv[1], sys.argv[2], int(sys.argv[3])
names, outs = sys.argv[4:4 + n_in], sys.argv[4 + n_in:]
net = cv2.dnn.readNetFromONNX(model)
for k, name in enumerate(names):
    net.setInput(np.load("%s/in%d.npy" % (work, k)), name)
for k, y in enumerate(net.forward(outs)):
    np.save("%s/out%d.npy" % (work, k), np.asarray(y))
print(cv2.__version__)
"""


def ref_opencv(path, names, feeds, out_names):
    """OpenCV DNN in a child process: it may abort on graphs it cannot handle, and it logs
    import failures unless OPENCV_LOG_LEVEL is set before it loads."""
    work = tempfile.mkdtemp(prefix="onnx2ts-cv-")
    try:
        for k, f in enumerate(feeds):
            np.save(os.path.join(work, "in%d.npy" % k), f)
        env = dict(os.environ, OPENCV_LOG_LEVEL="SILENT")
        r = subprocess.run([sys.executable, "-c", OPENCV_RUNNER, path, work, str(len(names))] + names + out_names,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=1800)
        if r.returncode != 0:
            lines = [l.strip() for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
            at = next((i for i, l in enumerate(lines) if "error:" in l), len(lines) - 1)
            msg = " ".join(lines[at:at + 2]) if lines else "exit %d" % r.returncode
            raise RuntimeError(msg[:300])
        outs = [np.load(os.path.join(work, "out%d.npy" % k)) for k in range(len(out_names))]
        return "opencv-dnn %s" % r.stdout.decode().strip(), outs
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_ort(cache):
    pkg = os.path.join(cache, "node_modules", "onnxruntime-node")
    if os.path.isfile(os.path.join(pkg, "package.json")):
        return pkg
    if not shutil.which("npm") or not shutil.which("node"):
        raise RuntimeError("node/npm not found (needed for the onnxruntime reference)")
    os.makedirs(cache, exist_ok=True)
    # --ignore-scripts: the post-install step fetches CUDA binaries (fails offline); the CPU
    # build shipped inside the package is all we need
    r = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund",
                        "--prefix", cache, "onnxruntime-node@1.30.0"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    if r.returncode != 0 or not os.path.isfile(os.path.join(pkg, "package.json")):
        raise RuntimeError("npm install onnxruntime-node into %s failed: %s"
                           % (cache, r.stdout.decode(errors="replace").strip().splitlines()[-1:]))
    return pkg


ORT_TYPES = {np.float32: "float32", np.float64: "float64", np.int64: "int64", np.int32: "int32",
             np.bool_: "bool", np.float16: "float16"}


def run_ort(jobs, threads):
    """jobs: [(model path, input names, input arrays, output names)] -> per job the list of
    outputs (float32 arrays) or an error string. One Node.js process runs them all."""
    cache = os.environ.get("VFM_NPM_CACHE") or "/tmp/vfm-npm"
    pkg = ensure_ort(cache)
    work = tempfile.mkdtemp(prefix="onnx2ts-ort-")
    try:
        specs = []
        for j, (model, names, feeds, out_names) in enumerate(jobs):
            d = os.path.join(work, "job%d" % j)
            os.makedirs(d)
            spec = {"ort": pkg, "model": os.path.abspath(model), "threads": threads, "outdir": d,
                    "outputs": out_names, "inputs": []}
            for k, (name, f) in enumerate(zip(names, feeds)):
                fn = os.path.join(d, "in%d.bin" % k)
                np.ascontiguousarray(f).tofile(fn)
                spec["inputs"].append({"name": name, "file": fn, "dims": list(f.shape),
                                       "type": ORT_TYPES[f.dtype.type]})
            specs.append(os.path.join(d, "spec.json"))
            with open(specs[-1], "w") as fh:
                json.dump(spec, fh)
        r = subprocess.run(["node", os.path.join(HERE, "ort_run.js")] + specs,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        results = []
        for spec in specs:
            try:
                meta = json.load(open(os.path.join(os.path.dirname(spec), "outputs.json")))
            except (OSError, ValueError):
                tail = r.stdout.decode(errors="replace").strip().splitlines()
                results.append("onnxruntime-node failed: %s" % (tail[-1] if tail else "exit %d" % r.returncode))
                continue
            if isinstance(meta, dict):
                results.append(meta.get("error", "?"))
            else:
                results.append([np.fromfile(m["file"], dtype=np.float32).reshape(m["dims"]) for m in meta])
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ref_ort(path, names, feeds, out_names, threads):
    cache = os.environ.get("VFM_NPM_CACHE") or "/tmp/vfm-npm"
    res = run_ort([(path, names, feeds, out_names)], threads)[0]
    if isinstance(res, str):
        raise RuntimeError(res)
    pkg = os.path.join(cache, "node_modules", "onnxruntime-node", "package.json")
    return "onnxruntime-node %s" % json.load(open(pkg)).get("version", "?"), res


def compare(name, got, ref):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    rec = {"name": name, "shape": list(got.shape)}
    if ref.shape != got.shape:
        if ref.size != got.size:
            rec.update(ref_shape=list(ref.shape), max_abs_diff=None, range=None, ratio=None, ok=False)
            return rec
        rec["ref_shape"] = list(ref.shape)  # same elements, other singleton dims (OpenCV)
        ref = ref.reshape(got.shape)
    diff = np.abs(got - ref)
    maxdiff = float(diff.max()) if diff.size else 0.0
    if np.isnan(diff).any():
        maxdiff = float("inf")
    rng = float(ref.max() - ref.min()) if ref.size else 0.0
    denom = rng if rng > 0 else max(float(np.abs(ref).max()) if ref.size else 0.0, 1.0)
    ratio = maxdiff / denom
    rec.update(max_abs_diff=maxdiff, range=rng, ratio=ratio, ok=bool(ratio <= TOLERANCE))
    return rec


def check(args, saved, model, ins, shapes, seconds, ops, specs=None):
    """Parity of the saved TorchScript file against OpenCV DNN / onnxruntime; prints the JSON
    line, returns True when every output passes."""
    import torch
    path = args.model
    specs = specs or {}
    rng_range = global_range(args) or default_range(model, shapes)
    rng = np.random.default_rng(args.seed)
    feeds = [make_input(et, s, rng, rng_range, specs.get(n)) for (n, et, _), s in zip(ins, shapes)]
    names = [n for n, _, _ in ins]
    out_names = [o.name for o in model.graph.output]
    ts = torch.jit.load(saved)
    ts.eval()
    with torch.no_grad():
        y = ts(*[torch.from_numpy(f) for f in feeds])
    got = [y] if isinstance(y, torch.Tensor) else list(y)
    got = [t.float().numpy() for t in got]
    notes = []
    reference, refs = None, None
    if args.reference in ("auto", "opencv"):
        try:
            reference, refs = ref_opencv(path, names, feeds, out_names)
            if len(refs) != len(got) or any(r.size != g.size for r, g in zip(refs, got)):
                raise RuntimeError("output sizes differ from the graph's")
        except Exception as e:
            reference, refs = None, None
            notes.append("opencv: %s" % first_line(e))
            if args.reference == "opencv":
                raise ConvertError("%s: --check: OpenCV DNN cannot run the graph: %s" % (path, first_line(e)))
    if refs is None:
        try:
            reference, refs = ref_ort(path, names, feeds, out_names, args.threads)
        except Exception as e:
            raise ConvertError("%s: --check: no reference could run the graph (%s; onnxruntime: %s)"
                               % (path, "; ".join(notes) or "-", first_line(e)))
    recs = [compare(n, g, r) for n, g, r in zip(out_names, got, refs)]
    ok = len(recs) == len(got) and all(r["ok"] for r in recs)
    report = {"model": path, "out": args.out, "pass": ok, "reference": reference, "tolerance": TOLERANCE,
              "convert_s": round(seconds, 3), "seed": args.seed,
              "inputs": [input_record(n, f, rng_range, specs.get(n)) for n, f in zip(names, feeds)],
              "outputs": [{k: v for k, v in r.items() if k != "ok"} for r in recs], "ops": ops}
    if notes:
        report["notes"] = notes
    print(json.dumps(report))
    return ok


def input_record(name, feed, rng_range, spec):
    rec = {"name": name, "shape": list(feed.shape)}
    if spec is not None and spec[0] == "values":
        rec["values"] = spec[1]
    elif spec is not None:
        rec["range"] = list(spec[1:])
    elif feed.dtype.kind == "f":
        rec["range"] = list(rng_range)
    else:
        rec["values"] = [0]
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description="Convert an ONNX model to TorchScript (torch.jit.trace).")
    ap.add_argument("model", help="input .onnx file")
    ap.add_argument("out", help="output TorchScript file (.pt)")
    ap.add_argument("--input-shape", action="append", metavar="N,C,H,W",
                    help="sample input shape for tracing (replaces dynamic dims); repeat per graph input")
    ap.add_argument("--check", action="store_true", help="compare with OpenCV DNN / onnxruntime; exit 1 on mismatch")
    ap.add_argument("--input-range", action="append", metavar="[NAME=]LO,HI",
                    help="value range of the random --check input; NAME=LO,HI: of one input, also "
                         "for tracing (repeatable)")
    ap.add_argument("--input-values", action="append", metavar="NAME=V1,V2,...",
                    help="draw every element of input NAME from these values, for tracing and "
                         "the check (repeatable)")
    ap.add_argument("--reference", choices=("auto", "opencv", "ort"), default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet", action="store_true")
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(argv[:-1]):  # let "--input-range -1,1" through argparse
        if a == "--input-range":
            argv[i:i + 2] = ["--input-range=" + argv[i + 1], ""]
    args = ap.parse_args([a for a in argv if a != ""])
    try:
        import torch
        torch.set_num_threads(max(1, args.threads))
        global_range(args)  # validates the unnamed --input-range before converting
        tmp, summary, info = convert(args)
        try:
            if args.check and not check(args, tmp, *info):
                return 1  # OUT is only written when the check passes
            os.replace(tmp, args.out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if not args.quiet:
            print("%s: %s" % (PROG, summary), file=sys.stderr)
        return 0
    except ConvertError as e:
        print("error: %s: %s" % (PROG, str(e).replace("\n", " ")), file=sys.stderr)
        return 2
    except Exception as e:  # a bug or an environment problem: still one line, exit 2
        print("error: %s: %s: %s: %s" % (PROG, args.model, type(e).__name__, first_line(e)), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
