#!/usr/bin/python3
"""Convert an Ultralytics YOLOv5 (v6.x) checkpoint into a TorchScript detector for vfm.

Usage:
  yolov5_pt.py CKPT.pt OUT.pt [--imgsz 640] [--no-fuse] [--quiet]

CKPT.pt is a checkpoint as Ultralytics' train.py writes it (a torch zip archive whose pickle
holds the yolov5 Model object). It is read WITHOUT the yolov5 / ultralytics packages: a
restricted unpickler turns every yolov5 or torch.nn class into an inert record of its pickled
state and refuses any other global (os.system, builtins.eval, ...). The tensors found in the
module tree (parameters and persistent buffers, named as Model.state_dict() names them:
model.0.conv.weight, ..., model.24.anchors) and the architecture dict the Model carries
(Model.yaml: depth_multiple, width_multiple, anchors, backbone, head) are then loaded into this
file's own implementation of the architecture, with strict key and shape matching.

OUT.pt is a traced TorchScript module: input [B, 3, H, W] float RGB in [0, 1] (H = W = --imgsz
when traced; the grid is computed from the feature-map size, so other multiples of 32 work
too); output one tensor [B, N, 5 + nc], N = 25200 for 640: cx, cy, w, h in input pixels,
objectness, nc class probabilities, i.e. what yolov5's `export.py --include torchscript`
produces. The file carries extra_files['config.txt'] = {"shape", "stride", "names"} as
yolov5's export does.

Runs on Debian's /usr/bin/python3 with torch (CPU), numpy. Errors: one line on stderr, exit 2,
nothing written at OUT (the file is written under a temporary name and renamed at the end).
"""

import argparse
import collections
import io
import json
import math
import os
import pickle
import sys
import time
import zipfile

import torch
import torch.nn as nn

PROG = "yolov5_pt"


class ConvertError(Exception):
    """A problem with the input or the conversion, reported as one line and exit status 2."""


# ----------------------------------------------------------------------------------------------
# 1. Restricted unpickling
# ----------------------------------------------------------------------------------------------

# Global name prefixes whose classes become inert stubs. Only classes of the training code
# (yolov5's models.* / utils.*) and torch.nn modules are expected in a checkpoint's Model tree.
STUB_PREFIXES = ("models.", "utils.", "torch.nn.modules.")

STORAGE_DTYPES = {
    "HalfStorage": torch.float16,
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class StorageType:
    """What find_class returns for torch.<X>Storage: a dtype marker, nothing callable."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = dtype

    def __repr__(self):
        return "StorageType(%s)" % self.name


class Stub:
    """Inert stand-in for a pickled class instance: records constructor args and state only."""

    _qualname = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        object.__setattr__(obj, "stub_args", args)
        object.__setattr__(obj, "stub_state", {})
        return obj

    def __init__(self, *args, **kwargs):  # called only when a pickle REDUCEs the class itself
        object.__setattr__(self, "stub_args", args)

    def __setstate__(self, state):
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        merged = {}
        if isinstance(state, dict):
            merged.update(state)
        elif state is not None:
            merged["__state__"] = state
        if isinstance(slots, dict):
            merged.update(slots)
        object.__setattr__(self, "stub_state", merged)

    def __setitem__(self, key, value):  # SETITEMS on a dict subclass record
        self.stub_state.setdefault("__items__", {})[key] = value

    def append(self, value):  # APPENDS on a list subclass record
        self.stub_state.setdefault("__list__", []).append(value)

    def extend(self, values):
        self.stub_state.setdefault("__list__", []).extend(values)

    def __repr__(self):
        return "<stub %s>" % self._qualname


_stub_classes = {}


def stub_class(module, name):
    key = module + "." + name
    cls = _stub_classes.get(key)
    if cls is None:
        cls = type(str(name), (Stub,), {"_qualname": key, "__module__": "stub." + module})
        _stub_classes[key] = cls
    return cls


def _check_int_tuple(value, what):
    if not isinstance(value, (tuple, list, torch.Size)) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise pickle.UnpicklingError("bad tensor %s %r" % (what, value))
    return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """Safe equivalent of torch._utils._rebuild_tensor_v2 over a flat storage tensor."""
    if not isinstance(storage, torch.Tensor) or storage.dim() != 1:
        raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise pickle.UnpicklingError("bad tensor storage offset %r" % (storage_offset,))
    size = _check_int_tuple(size, "size")
    stride = _check_int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError("tensor size %r and stride %r differ in rank" % (size, stride))
    if all(s > 0 for s in size):
        last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.numel():
            raise pickle.UnpicklingError(
                "tensor of size %r reaches element %d of a storage of %d" % (size, last, storage.numel())
            )
    return torch.as_strided(storage, size, stride, storage_offset)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *_ignored):
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter rebuilt from a non-tensor")
    return data


def _reconstructor(cls, base, state):
    """copyreg._reconstructor (protocol 0/1 objects), only for stub classes over object."""
    if not (isinstance(cls, type) and issubclass(cls, Stub)) or base is not object or state is not None:
        raise pickle.UnpicklingError("copyreg._reconstructor allowed only for recorded classes")
    return cls.__new__(cls)


def _safe_globals():
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("__builtin__", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("__builtin__", "frozenset"): frozenset,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "Size"): torch.Size,
        ("copyreg", "_reconstructor"): _reconstructor,
        ("copy_reg", "_reconstructor"): _reconstructor,
    }
    for name, dtype in STORAGE_DTYPES.items():
        table[("torch", name)] = StorageType(name, dtype)
    try:  # numpy array / scalar reconstruction (e.g. numbers in the 'opt' dict)
        import numpy

        table[("numpy.core.multiarray", "_reconstruct")] = numpy.core.multiarray._reconstruct
        table[("numpy.core.multiarray", "scalar")] = numpy.core.multiarray.scalar
        table[("numpy", "ndarray")] = numpy.ndarray
        table[("numpy", "dtype")] = numpy.dtype
    except Exception:  # numpy missing or reorganised: such checkpoints are refused instead
        pass
    return table


SAFE_GLOBALS = _safe_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only an allow-list of globals; yolov5/torch.nn classes -> stubs."""

    def __init__(self, file, storage_loader):
        super().__init__(file, encoding="utf-8")
        self._storage_loader = storage_loader

    def find_class(self, module, name):
        obj = SAFE_GLOBALS.get((module, name))
        if obj is not None:
            return obj
        if module.startswith(STUB_PREFIXES) and name.isidentifier() and not name.startswith("_"):
            if module.startswith("torch.nn.modules.") and not name[:1].isupper():
                raise pickle.UnpicklingError("forbidden global %s.%s" % (module, name))
            return stub_class(module, name)
        raise pickle.UnpicklingError(
            "forbidden global %s.%s (only tensors, plain containers and yolov5/torch.nn "
            "module records are allowed)" % (module, name)
        )

    def persistent_load(self, pid):
        if (
            not isinstance(pid, tuple)
            or len(pid) != 5
            or pid[0] != "storage"
            or not isinstance(pid[1], StorageType)
            or not isinstance(pid[2], str)
            or not isinstance(pid[4], int)
        ):
            raise pickle.UnpicklingError("unsupported persistent id %r" % (pid[:2] if isinstance(pid, tuple) else pid,))
        return self._storage_loader(pid[1], pid[2], pid[4])


def load_checkpoint(path):
    """Read a torch zip checkpoint with the restricted unpickler; returns the unpickled object."""
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ConvertError("%s: no such file" % path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ConvertError("%s: not a readable torch zip checkpoint (%s); truncated or legacy format?" % (path, e))
    with zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise ConvertError("%s: expected one <archive>/data.pkl in the zip, found %d" % (path, len(pkls)))
        prefix = pkls[0][: -len("data.pkl")]
        byteorder = prefix + "byteorder"
        if byteorder in zf.namelist() and zf.read(byteorder).strip() not in (b"little", b""):
            raise ConvertError("%s: big-endian checkpoints are not supported" % path)
        storages = {}

        def storage_loader(stype, key, numel):
            cached = storages.get(key)
            if cached is not None:
                return cached
            name = prefix + "data/" + key
            try:
                raw = zf.read(name)
            except KeyError:
                raise pickle.UnpicklingError("storage record %s missing from the zip" % name)
            itemsize = torch.empty((), dtype=stype.dtype).element_size()
            if len(raw) < numel * itemsize or len(raw) % itemsize:
                raise pickle.UnpicklingError(
                    "storage %s holds %d bytes, expected %d x %d" % (name, len(raw), numel, itemsize)
                )
            t = torch.frombuffer(bytearray(raw), dtype=stype.dtype) if raw else torch.empty(0, dtype=stype.dtype)
            storages[key] = t
            return t

        try:
            data = zf.read(pkls[0])
            return RestrictedUnpickler(io.BytesIO(data), storage_loader).load()
        except pickle.UnpicklingError as e:
            raise ConvertError("%s: refused: %s" % (path, e))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, RuntimeError) as e:
            raise ConvertError("%s: corrupt checkpoint (%s: %s)" % (path, type(e).__name__, e))


# ----------------------------------------------------------------------------------------------
# Walking the recorded module tree
# ----------------------------------------------------------------------------------------------


def _is_module_record(obj):
    return isinstance(obj, Stub) and isinstance(obj.stub_state.get("_modules"), dict)


def module_records(root, prefix=""):
    """Yield (path, record) for every module record under root (root itself has path "")."""
    yield prefix.rstrip("."), root
    for name, child in root.stub_state["_modules"].items():
        if child is None:
            continue
        if not _is_module_record(child):
            raise ConvertError("module %s%s is not a module record (%r)" % (prefix, name, type(child).__name__))
        yield from module_records(child, prefix + name + ".")


def recorded_state_dict(root):
    """Parameters and persistent buffers of the recorded tree, named as nn.Module.state_dict()."""
    out = collections.OrderedDict()
    for path, rec in module_records(root):
        st = rec.stub_state
        pre = path + "." if path else ""
        skip = st.get("_non_persistent_buffers_set") or set()
        for kind in ("_parameters", "_buffers"):
            table = st.get(kind) or {}
            if not isinstance(table, dict):
                raise ConvertError("%s%s is not a dict" % (pre, kind))
            for name, value in table.items():
                if value is None or (kind == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise ConvertError("%s%s is not a tensor" % (pre, name))
                out[pre + name] = value
    return out


def class_name(rec):
    return rec._qualname.rsplit(".", 1)[-1]


def extract_model(ckpt):
    """-> (model record, state dict, yaml dict, names) from a yolov5 checkpoint object."""
    if isinstance(ckpt, dict):
        model = ckpt.get("model")
        if model is None:
            model = ckpt.get("ema")
        if model is None:
            raise ConvertError("checkpoint dict has neither 'model' nor 'ema' (keys: %s)" % ", ".join(map(str, ckpt)))
    else:
        model = ckpt
    if not _is_module_record(model):
        raise ConvertError("checkpoint 'model' entry is a %s, not a yolov5 Model" % type(model).__name__)
    st = model.stub_state
    yaml_cfg = st.get("yaml")
    if not isinstance(yaml_cfg, dict):
        raise ConvertError("the Model record carries no yaml dict (model.yaml); cannot rebuild the architecture")
    names = st.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    return model, recorded_state_dict(model), yaml_cfg, names


# ----------------------------------------------------------------------------------------------
# 2. YOLOv5 (v6.x) architecture
# ----------------------------------------------------------------------------------------------


def pad_same(k, p=None):
    if p is not None:
        return p
    return k // 2 if isinstance(k, int) else [v // 2 for v in k]


class Conv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> SiLU; after fuse(): Conv2d with bias -> SiLU."""

    def __init__(self, c1, c2, k=1, s=1, p=None, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, pad_same(k, p), groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        if act is not True:
            raise ConvertError("only the default SiLU activation is supported (got act=%r)" % (act,))
        self.act = nn.SiLU()

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)

    @torch.no_grad()
    def fuse(self):
        w, bn = self.conv.weight, self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = nn.Conv2d(
            self.conv.in_channels, self.conv.out_channels, self.conv.kernel_size, self.conv.stride,
            self.conv.padding, self.conv.dilation, self.conv.groups, bias=True,
        )
        fused.weight.copy_(w * scale.view(-1, 1, 1, 1))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.conv = fused
        self.bn = None


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1, g=g)
        self.add = bool(shortcut and c1 == c2)

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    def __init__(self, c1, c2, n=1, shortcut=True, g=1, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*[Bottleneck(c_, c_, shortcut, g, e=1.0) for _ in range(n)])

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class SPP(nn.Module):
    def __init__(self, c1, c2, k=(5, 9, 13)):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * (len(k) + 1), c2, 1, 1)
        self.m = nn.ModuleList([nn.MaxPool2d(kernel_size=v, stride=1, padding=v // 2) for v in k])

    def forward(self, x):
        x = self.cv1(x)
        return self.cv2(torch.cat([x] + [m(x) for m in self.m], 1))


class Concat(nn.Module):
    def __init__(self, dimension=1):
        super().__init__()
        self.d = dimension

    def forward(self, xs):
        return torch.cat(xs, self.d)


class Detect(nn.Module):
    """YOLOv5 head: 1x1 conv per level, sigmoid, grid/anchor decode, concatenated over levels."""

    def __init__(self, nc, anchors, ch):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.m = nn.ModuleList([nn.Conv2d(c, self.no * self.na, 1) for c in ch])
        # anchors in grid units (pixels / stride), as yolov5's Model stores them; loaded from
        # the checkpoint. stride is a plain attribute there: a non-persistent buffer here.
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(self.nl, -1, 2))
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)

    def forward(self, feats):
        out = []
        for i in range(self.nl):
            x = self.m[i](feats[i])
            ny, nx = x.shape[2], x.shape[3]
            y = x.view(-1, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
            gy = torch.arange(ny, dtype=y.dtype, device=y.device).view(1, 1, ny, 1).expand(1, 1, ny, nx)
            gx = torch.arange(nx, dtype=y.dtype, device=y.device).view(1, 1, 1, nx).expand(1, 1, ny, nx)
            grid = torch.stack((gx, gy), -1)  # [1, 1, ny, nx, 2]
            anchor_px = (self.anchors[i] * self.stride[i]).view(1, self.na, 1, 1, 2)
            xy = (y[..., 0:2] * 2.0 - 0.5 + grid) * self.stride[i]
            wh = (y[..., 2:4] * 2.0) ** 2 * anchor_px
            y = torch.cat((xy, wh, y[..., 4:]), -1)
            out.append(y.reshape(y.shape[0], -1, self.no))
        return torch.cat(out, 1)


def make_divisible(x, divisor):
    return int(math.ceil(x / divisor) * divisor)


CHANNEL_MODULES = {"Conv": Conv, "Bottleneck": Bottleneck, "C3": C3, "SPPF": SPPF, "SPP": SPP}
REPEAT_INSIDE = {"C3"}


class YoloV5(nn.Module):
    """Model built from a yolov5 yaml dict: self.model is the layer list (model.0 ... model.N)."""

    def __init__(self, cfg, ch=3):
        super().__init__()
        for key in ("backbone", "head", "anchors", "depth_multiple", "width_multiple"):
            if key not in cfg:
                raise ConvertError("model yaml lacks '%s'" % key)
        if cfg.get("activation") not in (None, "nn.SiLU()"):
            raise ConvertError("model yaml activation %r is not supported (SiLU only)" % cfg["activation"])
        nc = cfg.get("nc")
        if not isinstance(nc, int) or nc <= 0:
            raise ConvertError("model yaml nc must be a positive integer, got %r" % (nc,))
        anchors = cfg["anchors"]
        if isinstance(anchors, int):
            raise ConvertError("auto anchors (anchors: %d) are not supported; the yaml must list them" % anchors)
        in_ch = cfg.get("ch", ch)
        if in_ch != 3:
            raise ConvertError("model yaml ch is %r; only 3-channel (RGB) models are supported" % (in_ch,))
        gd, gw = float(cfg["depth_multiple"]), float(cfg["width_multiple"])
        no = (len(anchors[0]) // 2) * (nc + 5)
        layers, self.froms, chs = [], [], []

        def resolve(a):
            if a == "nc":
                return nc
            if a == "anchors":
                return anchors
            if a == "None":
                return None
            return a

        for i, row in enumerate(list(cfg["backbone"]) + list(cfg["head"])):
            if not isinstance(row, (list, tuple)) or len(row) != 4:
                raise ConvertError("yaml layer %d: expected [from, number, module, args], got %r" % (i, row))
            f, n, mname, args = row
            args = [resolve(a) for a in (args or [])]
            fl = [f] if isinstance(f, int) else list(f)
            if not all(isinstance(v, int) for v in fl):
                raise ConvertError("yaml layer %d: bad 'from' %r" % (i, f))
            c_in = [in_ch if (i == 0 and v == -1) else chs[v] for v in fl]
            n = max(round(n * gd), 1) if n > 1 else n
            if mname in CHANNEL_MODULES:
                c1, c2 = c_in[0], args[0]
                if c2 != no:
                    c2 = make_divisible(c2 * gw, 8)
                margs = [c1, c2] + args[1:]
                if mname in REPEAT_INSIDE:
                    margs.insert(2, n)
                    n = 1
                make = lambda cls=CHANNEL_MODULES[mname], a=margs: cls(*a)  # noqa: E731
            elif mname in ("nn.Upsample", "Upsample"):
                size, scale, mode = (args + [None, None, "nearest"])[:3]
                if size is not None or mode != "nearest":
                    raise ConvertError("yaml layer %d: only nearest Upsample by a scale factor is supported" % i)
                c2 = c_in[0]
                make = lambda s=scale: nn.Upsample(scale_factor=s, mode="nearest")  # noqa: E731
            elif mname == "Concat":
                c2 = sum(c_in)
                make = lambda a=args: Concat(*a)  # noqa: E731
            elif mname == "Detect":
                if len(args) < 2 or args[0] != nc:
                    raise ConvertError("yaml layer %d: Detect args must be [nc, anchors]" % i)
                c2 = None
                make = lambda a=args, c=c_in: Detect(a[0], a[1], c)  # noqa: E731
            else:
                raise ConvertError("yaml layer %d: module %r is not supported by this converter" % (i, mname))
            if not isinstance(n, int) or n < 1:
                raise ConvertError("yaml layer %d: bad repeat count %r" % (i, n))
            mod = make() if n == 1 else nn.Sequential(*[make() for _ in range(n)])
            layers.append(mod)
            # -1 is the previous layer's output; other negative indices count back from layer i
            absolute = [v if v == -1 else (i + v if v < 0 else v) for v in fl]
            self.froms.append(absolute[0] if isinstance(f, int) else absolute)
            if i == 0:
                chs = []
            chs.append(c2)
        if not isinstance(layers[-1], Detect):
            raise ConvertError("the last yaml layer must be Detect")
        self.model = nn.Sequential(*layers)
        self.nc = nc

    def forward(self, x):
        saved = {}
        for i, m in enumerate(self.model):
            f = self.froms[i]
            if f != -1:
                x = saved[f] if isinstance(f, int) else [x if j == -1 else saved[j] for j in f]
            x = m(x)
            saved[i] = x  # all kept; unused ones just drop out of the traced graph
        return x

    def feature_strides(self, size=256):
        """Strides of the Detect inputs, measured with a dummy forward as yolov5 does."""
        self.eval()  # a train-mode forward would update the BatchNorm running statistics
        det = self.model[-1]
        grabbed = []
        hook = det.register_forward_pre_hook(lambda m, inp: grabbed.extend(inp[0]) or None)
        try:
            with torch.no_grad():
                det.stride.fill_(1.0)
                self.forward(torch.zeros(1, 3, size, size))
        finally:
            hook.remove()
        return [size / t.shape[-2] for t in grabbed]


# ----------------------------------------------------------------------------------------------
# Strict loading and structural checks
# ----------------------------------------------------------------------------------------------


def load_strict(model, state):
    """Copy state into model; any missing/unexpected key or shape mismatch is a ConvertError."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        raise ConvertError("checkpoint lacks %s (%d missing key(s) for the yaml's architecture)" % (missing[0], len(missing)))
    if unexpected:
        raise ConvertError("unexpected checkpoint key %s (%d not in the yaml's architecture)" % (unexpected[0], len(unexpected)))
    for k, target in own.items():
        src = state[k]
        if tuple(src.shape) != tuple(target.shape):
            raise ConvertError("shape mismatch for %s: checkpoint %s, architecture %s" % (k, list(src.shape), list(target.shape)))
        if target.is_floating_point() != src.is_floating_point():
            raise ConvertError("dtype mismatch for %s: checkpoint %s, architecture %s" % (k, src.dtype, target.dtype))
    with torch.no_grad():
        for k, target in own.items():
            target.copy_(state[k].to(target.dtype))  # fp16 -> fp32


LEAF_ATTRS = {
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"),
    "BatchNorm2d": ("num_features",),
    "MaxPool2d": ("kernel_size", "stride", "padding"),
    "Upsample": ("mode",),
    "SiLU": (),
}


def _norm(v):
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def check_structure(model, record):
    """Compare module classes and layer hyper-parameters with the recorded tree; copy BN eps."""
    recs = dict(module_records(record))
    mods = dict(model.named_modules())
    for path, mod in mods.items():
        if path == "":
            continue
        rec = recs.get(path)
        mine = type(mod).__name__
        if rec is None:
            raise ConvertError("checkpoint has no module %s (%s) that the yaml implies" % (path, mine))
        theirs = class_name(rec)
        if theirs != mine:
            raise ConvertError("module %s is %s in the checkpoint but %s from the yaml" % (path, theirs, mine))
        st = rec.stub_state
        for attr in LEAF_ATTRS.get(mine, ()):
            a, b = _norm(getattr(mod, attr)), _norm(st.get(attr))
            if isinstance(a, tuple) and isinstance(b, int):
                b = (b,) * len(a)
            if isinstance(b, tuple) and isinstance(a, int):
                a = (a,) * len(b)
            if a != b:
                raise ConvertError("module %s: %s is %r in the checkpoint but %r from the yaml" % (path, attr, b, a))
        if mine == "BatchNorm2d":
            eps = st.get("eps")
            if not isinstance(eps, float) or not 0 < eps < 1:
                raise ConvertError("module %s: bad BatchNorm eps %r" % (path, eps))
            mod.eps = eps
        if mine == "Upsample" and _norm(st.get("scale_factor")) != _norm(mod.scale_factor):
            raise ConvertError("module %s: Upsample scale %r, yaml says %r" % (path, st.get("scale_factor"), mod.scale_factor))
        if mine == "Bottleneck" and "add" in st and bool(st["add"]) != mod.add:
            raise ConvertError("module %s: shortcut %r in the checkpoint, %r from the yaml" % (path, st["add"], mod.add))
    extra = sorted(set(p for p in recs if p) - set(mods))
    if extra:
        raise ConvertError("checkpoint module %s (%s) is not in the yaml's architecture" % (extra[0], class_name(recs[extra[0]])))


def setup_detect(model, record):
    det = model.model[-1]
    path = "model.%d" % (len(model.model) - 1)
    rec = dict(module_records(record)).get(path)
    measured = model.feature_strides()
    stride = rec.stub_state.get("stride") if rec is not None else None
    if isinstance(stride, torch.Tensor):
        stride = [float(v) for v in stride.float().flatten()]
        if len(stride) != det.nl or any(abs(a - b) > 1e-6 for a, b in zip(stride, measured)):
            raise ConvertError("%s.stride is %r in the checkpoint but the architecture gives %r" % (path, stride, measured))
    else:
        stride = measured
    with torch.no_grad():
        det.stride.copy_(torch.tensor(stride))
    return stride


# ----------------------------------------------------------------------------------------------
# 3. Conversion driver
# ----------------------------------------------------------------------------------------------


def convert(ckpt_path, out_path, imgsz=640, fuse=True, log=print):
    t0 = time.time()
    if imgsz <= 0 or imgsz % 32:
        raise ConvertError("--imgsz must be a positive multiple of 32, got %d" % imgsz)
    record, state, cfg, names = extract_model(load_checkpoint(ckpt_path))
    model = YoloV5(cfg).eval().requires_grad_(False)
    check_structure(model, record)
    load_strict(model, state)
    stride = setup_detect(model, record)
    for k, v in model.state_dict().items():  # nothing above may have altered loaded tensors
        if k in state and not torch.equal(v, state[k].to(v.dtype)):
            raise ConvertError("internal error: %s changed after loading" % k)
    n_params = sum(p.numel() for p in model.parameters())
    nc = model.nc
    if not isinstance(names, list) or len(names) != nc:
        names = ["class%d" % i for i in range(nc)]

    torch.manual_seed(0)
    probe = torch.rand(2, 3, imgsz, imgsz)
    with torch.no_grad():
        ref = model(probe)
        if fuse:
            for m in model.modules():
                if isinstance(m, Conv):
                    m.fuse()
            model.requires_grad_(False)
        n_fused = sum(p.numel() for p in model.parameters())
        traced = torch.jit.trace(model, probe[:1], check_trace=False)

    out_dir = os.path.dirname(os.path.abspath(out_path))
    tmp = os.path.join(out_dir, ".%s.tmp%d" % (os.path.basename(out_path), os.getpid()))
    extra = {"config.txt": json.dumps({"shape": [1, 3, imgsz, imgsz], "stride": int(max(stride)), "names": names})}
    try:
        traced.save(tmp, _extra_files=extra)
        reloaded = torch.jit.load(tmp)
        with torch.no_grad():
            got = reloaded(probe)  # batch 2 through the saved file
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(ref.shape):
            raise ConvertError("saved model gives %s for batch 2, expected %s" % (getattr(got, "shape", type(got)), tuple(ref.shape)))
        diff = (got - ref).abs()
        # boxes are in pixels, scores in [0, 1]: compare relative to magnitude
        tol = 1e-3 * (1 + ref.abs())
        if not bool((diff <= tol).all()):
            raise ConvertError("saved model differs from the eager model by up to %.3g" % float(diff.max()))
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    info = {
        "params": n_params,
        "params_fused": n_fused if fuse else None,
        "output": list(ref.shape),
        "stride": stride,
        "nc": nc,
        "max_abs_diff": float(diff.max()),
        "seconds": time.time() - t0,
    }
    log(
        "%s: wrote %s: %d parameters (%s fused), input [B,3,%d,%d] -> output [B,%d,%d], strides %s, "
        "batch-2 check max |diff| %.2e, %.1f s"
        % (PROG, out_path, n_params, n_fused if fuse else "not", imgsz, imgsz, ref.shape[1], ref.shape[2],
           [int(s) for s in stride], info["max_abs_diff"], info["seconds"])
    )
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("ckpt", help="Ultralytics YOLOv5 checkpoint (.pt)")
    ap.add_argument("out", help="TorchScript file to write")
    ap.add_argument("--imgsz", type=int, default=640, help="square trace size, multiple of 32 (default 640)")
    ap.add_argument("--no-fuse", action="store_true", help="keep Conv and BatchNorm separate")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        convert(a.ckpt, a.out, a.imgsz, fuse=not a.no_fuse, log=(lambda *_: None) if a.quiet else print)
    except ConvertError as e:
        print("%s: error: %s" % (PROG, str(e).replace("\n", " ")), file=sys.stderr)
        return 2
    except Exception as e:  # anything unforeseen (odd yaml, torch errors): still one line, exit 2
        msg = str(e).strip().splitlines()
        print("%s: error: %s: %s" % (PROG, type(e).__name__, msg[0] if msg else ""), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
