"""Shared plumbing for the PyTorch state-dict converters in this folder.

Used by retinaface_pth.py, blazeface_pth.py, mobilefacenet_ckpt.py, espnet_pth.py and
sinet_pth.py. Each of those builds its network in its own code and calls run_converter(), which

  1. reads the checkpoint with torch.load(map_location='cpu', weights_only=True): PyTorch's
     restricted unpickler, which accepts tensors, dicts, lists, tuples and primitive values
     only and refuses any other global (os.system, arbitrary classes, ...);
  2. picks the state dict (optionally from a wrapper dict key such as 'net_state_dict'),
     checks every value is a tensor, and strips a 'module.' prefix (nn.DataParallel);
  3. loads it into the model with STRICT key and shape matching: a missing key, an unexpected
     key or a shape mismatch is an error naming the key. The single tolerance: BatchNorm's
     'num_batches_tracked' counters may be absent (checkpoints saved by PyTorch < 0.4.1 lack
     them; they play no part in eval mode) and are then left at 0;
  4. eval mode, traces the model at the stated example input, checks the trace against the
     eager model at that size and at a second size (if the family allows other sizes);
  5. writes OUT atomically: torch.jit.save to a temporary file in OUT's folder, loads it back,
     runs a batch of 2 through it and compares with eager, then renames it to OUT. On any
     failure the temporary file is removed and nothing is left at OUT.

Errors are reported on stderr as one line `error: <tool>: <file>: <what>` with exit status 2.
"""

import argparse
import os
import sys
import tempfile
import time

import torch


class ConvertError(Exception):
    """A problem with an input file or the conversion: one line on stderr, exit status 2."""

    def __init__(self, path, what):
        super().__init__(what)
        self.path = path
        self.what = what


def _one_line(text):
    text = " ".join(str(text).split())
    return text[:400] + ("..." if len(text) > 400 else "")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line `error: <tool>: <args>: <what>`, exit 2."""

    def __init__(self, *args, tool="convert", **kwargs):
        super().__init__(*args, **kwargs)
        self.tool = tool

    def error(self, message):
        sys.stderr.write("error: %s: arguments: %s\n" % (self.tool, _one_line(message)))
        sys.exit(2)


# ----------------------------------------------------------------------------------------------
# reading a checkpoint
# ----------------------------------------------------------------------------------------------

def load_state_dict(path, inner_key=None):
    """Read a plain state dict (or a dict holding one under inner_key) without running code."""
    if not os.path.isfile(path):
        raise ConvertError(path, "no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, bad pickle, refused global, ...
        msg = _one_line(e)
        tag = "WeightsUnpickler error:"
        if tag in msg:
            detail = msg.split(tag, 1)[1].strip()
            if detail.startswith("Unsupported"):
                raise ConvertError(path, "refused to unpickle: %s (only tensors and plain "
                                         "containers are accepted)" % detail)
            raise ConvertError(path, "cannot read checkpoint (truncated or corrupt): %s" % detail)
        raise ConvertError(path, "cannot read checkpoint (not a PyTorch file, truncated or "
                                 "corrupt): %s: %s" % (type(e).__name__, msg))
    if inner_key is not None:
        if not isinstance(obj, dict) or inner_key not in obj:
            keys = sorted(obj.keys())[:8] if isinstance(obj, dict) else type(obj).__name__
            raise ConvertError(path, "expected a dict with key '%s', found %s" % (inner_key, keys))
        obj = obj[inner_key]
    if not isinstance(obj, dict):
        raise ConvertError(path, "expected a state dict, found %s" % type(obj).__name__)
    if not obj:
        raise ConvertError(path, "empty state dict")
    state = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise ConvertError(path, "state dict key %r is not a string" % (k,))
        if not isinstance(v, torch.Tensor):
            raise ConvertError(path, "state dict entry '%s' is a %s, not a tensor" % (k, type(v).__name__))
        if k.startswith("module."):
            k = k[len("module."):]
        if k in state:
            raise ConvertError(path, "duplicate key '%s' after stripping 'module.'" % k)
        state[k] = v
    return state


def load_strict(model, state, path):
    """Copy `state` into `model`; any key or shape disagreement is a ConvertError naming it."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing key '%s' (shape %s)%s" % (
                missing[0], list(own[missing[0]].shape),
                " and %d more" % (len(missing) - 1) if len(missing) > 1 else ""))
        if unexpected:
            parts.append("unexpected key '%s' (shape %s)%s" % (
                unexpected[0], list(state[unexpected[0]].shape),
                " and %d more" % (len(unexpected) - 1) if len(unexpected) > 1 else ""))
        raise ConvertError(path, "; ".join(parts) + " in checkpoint")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ConvertError(path, "shape mismatch for key '%s': checkpoint %s, model expects %s"
                               % (k, list(v.shape), list(own[k].shape)))
        if own[k].is_floating_point() != v.is_floating_point():
            raise ConvertError(path, "dtype mismatch for key '%s': checkpoint %s, model expects %s"
                               % (k, v.dtype, own[k].dtype))
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ConvertError(path, "key '%s' holds NaN or Inf values" % k)
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)
    model.eval()
    return model


class BNPReLU(torch.nn.Module):
    """BatchNorm + per-channel PReLU ('<name>.bn', '<name>.act'): the BR block of ESPNet and
    SINet (sacmehta/ESPNet, clovaai/ext_portrait_segmentation), eps 1e-3 as both use."""

    def __init__(self, ch, eps=1e-3):
        super().__init__()
        self.bn = torch.nn.BatchNorm2d(ch, eps=eps)
        self.act = torch.nn.PReLU(ch)

    def forward(self, x):
        return self.act(self.bn(x))


class ConvBNPReLU(torch.nn.Module):
    """Bias-free 'same' conv + BatchNorm + PReLU ('<name>.conv', '.bn', '.act'): the CBR block of
    ESPNet and SINet."""

    def __init__(self, cin, cout, k, stride=1, eps=1e-3):
        super().__init__()
        self.conv = torch.nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False)
        self.bn = torch.nn.BatchNorm2d(cout, eps=eps)
        self.act = torch.nn.PReLU(cout)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def count_params(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# tracing and saving
# ----------------------------------------------------------------------------------------------

def _as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def compare(ya, yb):
    """Largest absolute difference between two (tuples of) tensors, relative to the range."""
    worst = 0.0
    for a, b in zip(_as_tuple(ya), _as_tuple(yb)):
        if a.shape != b.shape:
            return float("inf")
        rng = float(a.max() - a.min()) or 1.0
        worst = max(worst, float((a - b).abs().max()) / rng)
    return worst


def trace_and_save(model, example, out_path, src_path, extra_sizes=(), tol=1e-4,
                   extra_files=None, log=print):
    """Trace `model` at `example`, check it, save atomically at out_path. Returns the saved module.

    extra_sizes: further input shapes (without batch) the trace must reproduce eager results at.
    """
    model.eval()
    with torch.no_grad():
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as e:
            raise ConvertError(src_path, "tracing failed: %s" % _one_line(e))
        for shape in [tuple(example.shape[1:])] + [tuple(s) for s in extra_sizes]:
            x = torch.rand((1,) + shape) * 2 - 1
            d = compare(model(x), traced(x))
            if not d <= tol:
                raise ConvertError(src_path, "traced module differs from eager at input %s "
                                   "(max diff %.3g of range)" % (list(x.shape), d))
    out_path = os.path.abspath(out_path)
    folder = os.path.dirname(out_path)
    if not os.path.isdir(folder):
        raise ConvertError(out_path, "output folder does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out_path) + ".", suffix=".tmp",
                               dir=folder)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        files = {k: v.encode() if isinstance(v, str) else v for k, v in (extra_files or {}).items()}
        torch.jit.save(traced, tmp, _extra_files=files)
        loaded = torch.jit.load(tmp, map_location="cpu")
        loaded.eval()
        x2 = torch.rand((2,) + tuple(example.shape[1:])) * 2 - 1
        with torch.no_grad():
            y_saved = loaded(x2)
            y_eager = model(x2)
        for a in _as_tuple(y_saved):
            if a.shape[0] != 2:
                raise ConvertError(out_path, "saved module gives batch %d for a batch of 2" % a.shape[0])
        d = compare(y_eager, y_saved)
        if not d <= tol:
            raise ConvertError(out_path, "saved module differs from eager on a batch of 2 "
                               "(max diff %.3g of range)" % d)
        os.replace(tmp, out_path)
        tmp = None
        log("batch-2 check: outputs %s" % ", ".join(str(list(a.shape)) for a in _as_tuple(y_saved)))
        return loaded
    except ConvertError:
        raise
    except Exception as e:
        raise ConvertError(out_path, "saving failed: %s" % _one_line(e))
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def run_converter(tool, convert_fn, argv_parser):
    """Parse arguments with argv_parser (an OneLineParser), call convert_fn(args); map errors."""
    args = argv_parser.parse_args()
    t0 = time.time()
    try:
        convert_fn(args)
    except ConvertError as e:
        sys.stderr.write("error: %s: %s: %s\n" % (tool, e.path, _one_line(e.what)))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("error: %s: %s: interrupted\n" % (tool, getattr(args, "src", "?")))
        sys.exit(2)
    except Exception as e:  # anything unforeseen still gets the one-line contract
        sys.stderr.write("error: %s: %s: %s: %s\n"
                         % (tool, getattr(args, "src", "?"), type(e).__name__, _one_line(e)))
        sys.exit(2)
    if not getattr(args, "quiet", False):
        print("%s: done in %.1f s" % (tool, time.time() - t0))
