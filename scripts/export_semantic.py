#!/usr/bin/python3
"""Exports a semantic segmenter to the TorchScript file vfm's `semantic` family runs, plus the
config that names it.

    export_semantic.py --arch ARCH (--checkpoint FILE | --random-weights SEED)
                       [--package DIR] --out DIR [--name NAME]

Architectures (--arch), each built by its upstream code, weights loaded with load_state_dict
(strict); nothing of upstream is copied into vfm:

  torchvision (Debian's python3-torchvision; checkpoints from download.pytorch.org, e.g.
  lraspp_mobilenet_v3_large-d234d4ea.pth, the COCO-with-VOC-labels weights torchvision ships):
    deeplabv3_resnet50  deeplabv3_resnet101  deeplabv3_mobilenet_v3_large
    fcn_resnet50        fcn_resnet101        lraspp_mobilenet_v3_large
      21 classes (background + Pascal VOC's 20). Preprocessing as torchvision's weights
      transforms (torchvision/transforms/_presets.py SemanticSegmentation(resize_size=520)):
      RGB, shorter side to 520 keeping the aspect (vfm: preprocess.resize lower_bound), ImageNet
      mean/std. The model upsamples its logits to the input size itself; the auxiliary head of
      the ResNet checkpoints is loaded (strict) but not exported.
  bisenet-face (face parsing: hair, clothes, skin, ...; --package: a checkout of
  https://github.com/zllrunning/face-parsing.PyTorch, checkpoint 79999_iter.pth from its README):
      19 classes of CelebAMask-HQ, in the order of upstream's prepropess_data.py (0 background,
      then skin ... hat). Preprocessing as upstream test.py: RGB, stretched to 512x512
      (PIL bilinear; vfm: area), ImageNet mean/std; the first of BiSeNet's three outputs (the
      fused head; the other two are training-only auxiliary heads).
  schp-lip, schp-atr, schp-pascal (human parsing: hats, hair, upper clothes, dress, coat, pants,
  skirt, shoes, bags, body parts; --package: a checkout of
  https://github.com/GoGoDuck912/Self-Correction-Human-Parsing, checkpoints exp-schp-*-lip.pth /
  -atr.pth / -pascal-person-part.pth from its README): labels and input size from upstream's
  simple_extractor.py dataset_settings (LIP 20 classes at 473x473, ATR 18 and Pascal-Person-Part
  7 at 512x512). Preprocessing as its SimpleFolderDataset: BGR, the whole image fitted into the
  square input keeping its aspect, centred on black (vfm: letterbox, pad 0), mean/std
  (0.406, 0.456, 0.485) / (0.225, 0.224, 0.229) in BGR order. Exported: the fusion output
  (output[0][-1]) resized to the input with align_corners=True, as simple_extractor.py does
  before mapping it back. InPlaceABNSync (a compiled extension upstream) is stood in for by
  BatchNorm + leaky ReLU with the same parameter names (install_abn_shim).
  topformer (TopFormer, --package: a checkout of https://github.com/hustvl/TopFormer, --mm-config:
  one of its local_configs/topformer/*.py, e.g. topformer_tiny_512x512_160k_2x8_ade20k.py, with
  the matching checkpoint from its README): the model, labels (the config's dataset class in
  mmseg/datasets/) and preprocessing (img_norm_cfg; the test pipeline's keep-ratio Resize to the
  shorter side of img_scale and its ResizeToMultiple divisor; vfm rounds to the nearest multiple
  where mmseg rounds up) are read from that config. Upstream's Topformer backbone and SimpleHead
  are imported from the checkout; the few mmcv / mmseg names they import come from stand-ins
  written here (install_mm_shims), so neither mmcv nor mmseg is needed. Exported as upstream's
  EncoderDecoder.encode_decode: logits resized to the input size (bilinear), no background class.

  oneformer (OneFormer's semantic task, --package: a checkout of
  https://github.com/SHI-Labs/OneFormer, --d2-config: one of its configs/*/*.yaml, e.g.
  configs/ade20k/swin/oneformer_swin_tiny_bs16_160k.yaml, with the matching checkpoint from its
  README; needs detectron2 and OneFormer's requirements (timm, einops, ftfy, regex) importable):
      the model is built by detectron2's build_model from that config, labels are the dataset's
      stuff_classes (detectron2's MetadataCatalog, as registered by OneFormer), mean/std and
      channel order from MODEL.PIXEL_MEAN/STD and INPUT.FORMAT. Exported as upstream's semantic
      path (oneformer_model.py OneFormer.forward with the task "The task is semantic", tokenized
      by upstream's tokenizer at export time; then semantic_inference): mask logits resized to
      the input, softmax(class)[:-1] x sigmoid(mask) summed over queries -> class scores at the
      input size. Its Swin windows and deformable attention fix the traced graph to one input
      size, so the export has a fixed input (--input-size W H; default the square
      INPUT.MIN_SIZE_TEST): vfm fits each image into it keeping the aspect, top-left, padded with
      the mean (0 after normalising, as detectron2's ImageList pads). For an image whose
      ResizeShortestEdge size padded to SIZE_DIVISIBILITY equals the input (e.g. --input-size
      704 512 for 4:3 landscape photos at MIN_SIZE_TEST 512) this is upstream's input exactly;
      other aspects are fitted at a lower scale than upstream's. DiNAT backbones also need NATTEN.

The exported forward(x: float [B, 3, H, W], already normalised by vfm) -> logits [B, C, H', W'].
It is traced, then checked against the eager model at two input shapes (the traced graph must
follow the input size, since preprocess.resize lower_bound gives every aspect its own size;
OneFormer's trace is fixed to its input size and batch 1, written as model.batch 1, and checked on
a second input).

A checkpoint whose name carries torchvision's hash suffix (NAME-<hex>.pth) is checked as
torch.hub does: its sha256 must start with that hex.

--random-weights SEED: the architecture with variance-preserving random weights
(export_sam.randomize_weights), for contract tests and parity runs (scripts/parity_semantic.py
rebuilds the same weights from the seed).

Files written to --out (NAME defaults to ARCH): NAME.pt and NAME.json (the vfm config, with the
file's sha256). The last line on stdout is a JSON summary.
"""
import argparse
import functools
import importlib
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_sam import randomize_weights, sha256_of  # noqa: E402 (export_sam imports no torch)

IMAGENET_MEAN = [123.675, 116.28, 103.53]  # (0.485, 0.456, 0.406) x 255
IMAGENET_STD = [58.395, 57.12, 57.375]  # (0.229, 0.224, 0.225) x 255

# torchvision/models/segmentation/_utils.py _VOC_CATEGORIES (torchvision 0.14)
VOC_LABELS = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
              "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
              "sheep", "sofa", "train", "tvmonitor"]
# face-parsing.PyTorch prepropess_data.py `atts`, label l = index + 1 (0: background)
CELEBAMASK_LABELS = ["background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g",
                     "l_ear", "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck",
                     "neck_l", "cloth", "hair", "hat"]

TORCHVISION_ARCHS = ("deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
                     "fcn_resnet50", "fcn_resnet101", "lraspp_mobilenet_v3_large")
SCHP_ARCHS = ("schp-lip", "schp-atr", "schp-pascal")
ARCHS = TORCHVISION_ARCHS + ("bisenet-face", "topformer", "oneformer") + SCHP_ARCHS


class ExportError(Exception):
    pass


def arch_spec(arch, package=None, model_config=None, input_size=None):
    """What vfm needs to run ARCH: labels, input size, preprocessing, check shapes (H, W)."""
    if arch == "topformer":
        return topformer_spec(package, model_config)
    if arch == "oneformer":
        return oneformer_spec(package, model_config, input_size)
    if arch in SCHP_ARCHS:
        return schp_spec(package, arch)
    if arch in TORCHVISION_ARCHS:
        return {"labels": VOC_LABELS, "input_size": [520, 520],
                "preprocess": {"color": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                               "resize": "lower_bound", "interpolation": "area"},
                "check_shapes": [(1, 520, 520), (2, 520, 692)],
                "reference": "torchvision " + arch + " (SemanticSegmentation(resize_size=520))"}
    if arch == "bisenet-face":
        return {"labels": CELEBAMASK_LABELS, "input_size": [512, 512],
                "preprocess": {"color": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                               "resize": "stretch", "interpolation": "area"},
                "check_shapes": [(1, 512, 512), (2, 384, 512)],
                "reference": "zllrunning/face-parsing.PyTorch test.py (512x512, BiSeNet out[0])",
                "background": 0}
    raise ExportError(f"unknown --arch {arch} (known: {', '.join(ARCHS)})")


def load_state_dict(path):
    import torch
    sd = torch.load(path, map_location="cpu")
    for key in ("model", "state_dict"):  # torchvision references' / mmseg's training checkpoints
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
            break
    if isinstance(sd, dict) and sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}  # saved from DataParallel
    if not isinstance(sd, dict):
        raise ExportError(f"{path}: not a state_dict")
    return sd


def check_hash_suffix(path):
    """torch.hub's convention (hub.py HASH_REGEX): NAME-<hex>.ext, sha256 starting with hex."""
    m = re.search(r"-([a-f0-9]{6,})\.", os.path.basename(path))
    if not m:
        return None
    digest = sha256_of(path)
    if not digest.startswith(m.group(1)):
        raise ExportError(f"{path}: sha256 {digest} does not start with the file name's "
                          f"{m.group(1)} (corrupt or renamed download)")
    return digest


def logits_of(model, pick):
    """The exported module: upstream's model, then `pick` choosing (and, for SCHP, resizing) the
    logits among its outputs. Traced, so `pick` may be any Python function of (outputs, x)."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):
            return pick(self.m(x), x)

    return Logits()


def _build_torchvision(arch, sd):
    from torchvision.models import segmentation
    aux = sd is not None and any(k.startswith("aux_classifier.") for k in sd)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(VOC_LABELS)}
    if not arch.startswith("lraspp"):
        kwargs["aux_loss"] = aux
    model = getattr(segmentation, arch)(**kwargs)
    # torchvision's segmentation models return {"out": logits, "aux": ...}
    return model, logits_of(model, lambda out, x: out["out"])


def _build_bisenet(package, sd):
    if not package or not os.path.isfile(os.path.join(package, "model.py")):
        raise ExportError("--arch bisenet-face needs --package, a face-parsing.PyTorch checkout "
                          "(model.py, resnet.py)")
    sys.path.insert(0, os.path.abspath(package))
    resnet = importlib.import_module("resnet")
    # Upstream's Resnet18.__init__ downloads ImageNet weights (init_weight, model_zoo.load_url);
    # the checkpoint (or random weights) replaces them all, so skip the download.
    resnet.Resnet18.init_weight = lambda self: None
    model = importlib.import_module("model").BiSeNet(n_classes=len(CELEBAMASK_LABELS))
    return model, logits_of(model, lambda out, x: out[0])  # (fused, aux16, aux32)


# ---------------------------------------------------------------------------------------------
# TopFormer: mmcv / mmseg stand-ins (written for vfm) and the mmseg config reader.
# ---------------------------------------------------------------------------------------------
def install_mm_shims():
    """Puts into sys.modules the names TopFormer's backbone (mmseg/models/backbones/topformer.py)
    and SimpleHead (mmseg/models/decode_heads/simple_head.py) import, when mmcv is missing:
    ConvModule (conv, then the norm registered as "bn", then `activate`: mmcv's order and
    state_dict names), build_norm_layer (BN / SyncBN -> ("bn", BatchNorm2d)), BaseModule,
    registries that only return the class, mmseg.ops.resize (F.interpolate) and a BaseDecodeHead
    with mmseg's inference members (conv_seg, dropout, in_index / input_transform selection,
    cls_seg). Training members (losses, samplers, init_cfg) are left out."""
    import types
    import torch.nn.functional as F
    from torch import nn
    if "mmcv" in sys.modules and not getattr(sys.modules["mmcv"], "vfm_shim", False):
        return  # a real mmcv is imported: use it

    def module(name, **attrs):
        m = sys.modules.get(name) or types.ModuleType(name)
        m.__dict__.update(attrs)
        m.__path__, m.vfm_shim = [], True
        sys.modules[name] = m
        return m

    class Registry:
        def register_module(self, *args, **kwargs):
            if args and isinstance(args[0], type):
                return args[0]
            return lambda cls: cls

    def build_norm_layer(cfg, num_features, postfix=""):
        if cfg.get("type") not in ("BN", "BN2d", "SyncBN"):
            raise ExportError(f"norm_cfg type {cfg.get('type')}: only BN / SyncBN are supported")
        layer = nn.BatchNorm2d(num_features, eps=cfg.get("eps", 1e-5),
                               momentum=cfg.get("momentum", 0.1))
        return "bn" + str(postfix), layer

    acts = {"ReLU": nn.ReLU, "ReLU6": nn.ReLU6, "Sigmoid": nn.Sigmoid, "GELU": nn.GELU,
            "HSigmoid": nn.Hardsigmoid, "HSwish": nn.Hardswish}

    class ConvModule(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                     dilation=1, groups=1, bias="auto", conv_cfg=None, norm_cfg=None,
                     act_cfg={"type": "ReLU"}, inplace=True, **unused):
            super().__init__()
            if conv_cfg is not None or unused.get("order", ("conv", "norm", "act")) != (
                    "conv", "norm", "act"):
                raise ExportError("ConvModule stand-in: only plain Conv2d in conv-norm-act order")
            if bias == "auto":
                bias = norm_cfg is None
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                  dilation, groups, bias=bias)
            self.norm_name = None
            if norm_cfg is not None:
                self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
                self.add_module(self.norm_name, norm)
            self.activate = acts[act_cfg["type"]]() if act_cfg else None

        def forward(self, x):
            x = self.conv(x)
            if self.norm_name:
                x = getattr(self, self.norm_name)(x)
            return self.activate(x) if self.activate is not None else x

    class BaseModule(nn.Module):
        def __init__(self, init_cfg=None):
            super().__init__()
            self.init_cfg = init_cfg

    def resize(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
               warning=True):
        return F.interpolate(input, size, scale_factor, mode, align_corners)

    class BaseDecodeHead(BaseModule):
        def __init__(self, in_channels, channels, *, num_classes, dropout_ratio=0.1,
                     conv_cfg=None, norm_cfg=None, act_cfg={"type": "ReLU"}, in_index=-1,
                     input_transform=None, align_corners=False, **training_only):
            super().__init__()
            if input_transform not in (None, "multiple_select"):
                raise ExportError(f"decode head input_transform {input_transform}: not supported")
            self.in_channels, self.channels, self.num_classes = in_channels, channels, num_classes
            self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
            self.in_index, self.input_transform = in_index, input_transform
            self.align_corners = align_corners
            self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
            self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

        def _transform_inputs(self, inputs):
            if self.input_transform == "multiple_select":
                return [inputs[i] for i in self.in_index]
            return inputs[self.in_index]

        def cls_seg(self, feat):
            if self.dropout is not None:
                feat = self.dropout(feat)
            return self.conv_seg(feat)

    registry = Registry()
    module("mmcv")
    module("mmcv.cnn", ConvModule=ConvModule, build_norm_layer=build_norm_layer)
    module("mmcv.runner", BaseModule=BaseModule,
           _load_checkpoint=lambda *a, **k: (_ for _ in ()).throw(
               ExportError("pretrained backbone loading is not used here")))
    module("mmseg")
    module("mmseg.utils", get_root_logger=lambda *a, **k: None)
    module("mmseg.ops", resize=resize)
    module("mmseg.models")
    module("mmseg.models.builder", BACKBONES=registry, HEADS=registry)
    module("mmseg.models.utils")
    module("mmseg.models.backbones")
    module("mmseg.models.decode_heads")
    module("mmseg.models.decode_heads.decode_head", BaseDecodeHead=BaseDecodeHead)


def load_upstream_file(package, rel, name):
    import importlib.util
    path = os.path.join(package, rel)
    if not os.path.isfile(path):
        raise ExportError(f"--package {package}: no {rel} (a hustvl/TopFormer checkout?)")
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m
    spec.loader.exec_module(m)
    return m


def load_mm_config(path):
    """An mmcv-style config file: its variables, after those of its _base_ files (dicts merged
    key by key, unless the child says _delete_=True)."""
    import types

    def merge(dst, src):
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict) and not v.get("_delete_"):
                merge(dst[k], v)
            elif isinstance(v, dict):
                dst[k] = {kk: vv for kk, vv in v.items() if kk != "_delete_"}
            else:
                dst[k] = v

    if not os.path.isfile(path):
        raise ExportError(f"--mm-config {path}: no such file")
    ns = {}
    exec(compile(open(path).read(), path, "exec"), ns)
    bases = ns.pop("_base_", [])
    out = {}
    for b in [bases] if isinstance(bases, str) else bases:
        merge(out, load_mm_config(os.path.join(os.path.dirname(path), b)))
    merge(out, {k: v for k, v in ns.items()
                if not k.startswith("__") and not isinstance(v, types.ModuleType)})
    return out


def dataset_classes(package, dataset_type):
    """CLASSES of `dataset_type` in the checkout's mmseg/datasets/*.py, read with ast."""
    import ast
    folder = os.path.join(package, "mmseg", "datasets")
    for fname in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not fname.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(folder, fname)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == dataset_type:
                for st in node.body:
                    if (isinstance(st, ast.Assign) and
                            any(getattr(t, "id", None) == "CLASSES" for t in st.targets)):
                        return [str(x).strip() for x in ast.literal_eval(st.value)]
    return None


def topformer_spec(package, mm_config):
    if not package or not mm_config:
        raise ExportError("--arch topformer needs --package (a hustvl/TopFormer checkout) and "
                          "--mm-config (one of its local_configs/topformer/*.py)")
    cfg = load_mm_config(mm_config)
    head = cfg.get("model", {}).get("decode_head", {})
    n = head.get("num_classes")
    labels = dataset_classes(package, cfg.get("dataset_type", ""))
    if not labels or len(labels) != n:
        labels = [f"class_{i}" for i in range(n)]
    norm = cfg.get("img_norm_cfg", {})
    aug = next((t for t in cfg.get("test_pipeline", []) if t.get("type") == "MultiScaleFlipAug"),
               None)
    if not aug or not norm:
        raise ExportError(f"{mm_config}: no img_norm_cfg or MultiScaleFlipAug test pipeline")
    if any(t.get("type") == "Resize" and not t.get("keep_ratio") for t in aug["transforms"]):
        raise ExportError(f"{mm_config}: a test Resize without keep_ratio is not supported")
    short = min(aug["img_scale"])
    mult = next((t.get("size_divisor", 1) for t in aug["transforms"]
                 if t.get("type") == "ResizeToMultiple"), 1)
    return {"labels": labels, "input_size": [short, short], "multiple_of": mult,
            "preprocess": {"color": "rgb" if norm.get("to_rgb") else "bgr",
                           "mean": list(norm["mean"]), "std": list(norm["std"]),
                           "resize": "lower_bound", "interpolation": "linear"},
            "check_shapes": [(1, short, short), (2, short, short * 4 // 3 // 32 * 32 + 32)],
            "reference": "TopFormer " + os.path.basename(mm_config) + " (mmseg test pipeline)",
            "background": -1, "mm_config": cfg,
            # NHWC strides made TopFormer-T 2.1x slower in vfm (20 COCO images, 2 workers:
            # 11.7 s vs 5.6 s; its attention and the 150-channel resize); the conv nets here
            # measured within 15% either way, so they keep vfm's default.
            "channels_last": False}


def _build_topformer(package, spec):
    import torch
    install_mm_shims()
    backbone_mod = load_upstream_file(package, "mmseg/models/backbones/topformer.py",
                                      "mmseg.models.backbones.topformer")
    head_mod = load_upstream_file(package, "mmseg/models/decode_heads/simple_head.py",
                                  "mmseg.models.decode_heads.simple_head")
    m = spec["mm_config"]["model"]
    if m.get("type") != "EncoderDecoder":
        raise ExportError(f"model type {m.get('type')}: only EncoderDecoder")
    bb, hd = dict(m["backbone"]), dict(m["decode_head"])
    if bb.pop("type") != "Topformer" or hd.pop("type") != "SimpleHead":
        raise ExportError("only a Topformer backbone with a SimpleHead is supported")
    bb["init_cfg"] = None  # no ImageNet backbone download: the checkpoint has every weight

    class EncoderDecoder(torch.nn.Module):
        """mmseg EncoderDecoder.encode_decode: decode head on the backbone's features, logits
        resized to the input (bilinear, the head's align_corners)."""

        def __init__(self):
            super().__init__()
            self.backbone = backbone_mod.Topformer(**bb)
            self.decode_head = head_mod.SimpleHead(**hd)

        def forward(self, x):
            out = self.decode_head(self.backbone(x))
            return torch.nn.functional.interpolate(out, size=x.shape[2:], mode="bilinear",
                                                   align_corners=self.decode_head.align_corners)

    model = EncoderDecoder()
    return model, model


# ---------------------------------------------------------------------------------------------
# SCHP (Self-Correction for Human Parsing)
# ---------------------------------------------------------------------------------------------
def schp_settings(package):
    """simple_extractor.py's dataset_settings literal, read with ast."""
    import ast
    path = os.path.join(package or "", "simple_extractor.py")
    if not package or not os.path.isfile(path):
        raise ExportError("--arch schp-* needs --package, a Self-Correction-Human-Parsing checkout "
                          "(simple_extractor.py, networks/)")
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "dataset_settings"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise ExportError(f"{path}: no dataset_settings")


def schp_spec(package, arch):
    st = schp_settings(package)[arch.split("-", 1)[1]]
    h, w = st["input_size"]
    return {"labels": st["label"], "input_size": [w, h],
            "preprocess": {"color": "bgr", "mean": [103.53, 116.28, 123.675],
                           "std": [57.375, 57.12, 58.395], "resize": "letterbox",
                           "letterbox_centre": True, "pad_value": 0, "interpolation": "linear"},
            "check_shapes": [(1, h, w), (2, h, w)],
            "reference": "Self-Correction-Human-Parsing simple_extractor.py",
            "background": 0}


def install_abn_shim():
    """`modules` (upstream's inplace_abn build, a compiled extension) with InPlaceABNSync / ABN:
    batch norm (weight, bias, running_mean, running_var: upstream's names, no
    num_batches_tracked) then leaky_relu(0.01) / relu / elu / none, in eval mode."""
    import types
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ABN(nn.Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                     activation="leaky_relu", slope=0.01):
            super().__init__()
            self.eps, self.activation, self.slope = eps, activation, slope
            self.weight = nn.Parameter(torch.ones(num_features)) if affine else None
            self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))

        def forward(self, x):
            x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                             False, 0.0, self.eps)
            if self.activation == "leaky_relu":
                return F.leaky_relu(x, self.slope)
            if self.activation == "relu":
                return F.relu(x)
            if self.activation == "elu":
                return F.elu(x)
            return x

    m = types.ModuleType("modules")
    m.ABN = m.InPlaceABN = m.InPlaceABNSync = ABN
    m.vfm_shim = True
    sys.modules["modules"] = m


def _build_schp(package, arch):
    import torch.nn.functional as F
    spec = schp_spec(package, arch)
    install_abn_shim()
    sys.path.insert(0, os.path.abspath(package))
    networks = importlib.import_module("networks")
    model = networks.init_model("resnet101", num_classes=len(spec["labels"]), pretrained=None)
    # [[parsing, fusion], [edge]]: the fusion output at the input size, as simple_extractor.py
    return model, logits_of(model, lambda out, x: F.interpolate(
        out[0][-1], size=x.shape[2:], mode="bilinear", align_corners=True))


# ---------------------------------------------------------------------------------------------
# OneFormer (semantic task)
# ---------------------------------------------------------------------------------------------
# Modules only its training builds: the text encoder branch of a training checkpoint is dropped.
ONEFORMER_TRAIN_ONLY = ("text_encoder.", "text_projector.", "prompt_ctx.")


def install_oneformer_imports(package):
    """Makes OneFormer's model code importable without its training and logging imports:
    the `oneformer` and `oneformer.utils` packages are registered without running their
    __init__ (they import wandb, dataset mappers and evaluators); diffdist (the training loss's
    all-gather) and natten (DiNAT backbones only) get placeholders when not installed."""
    import types
    import importlib.abc  # noqa: F401 detectron2 0.6's projects/__init__.py needs it imported
    root = os.path.join(package or "", "oneformer")
    if not package or not os.path.isfile(os.path.join(root, "oneformer_model.py")):
        raise ExportError("--arch oneformer needs --package, a SHI-Labs/OneFormer checkout "
                          "(oneformer/oneformer_model.py)")
    try:
        importlib.import_module("detectron2.modeling")
    except ImportError as e:
        raise ExportError(f"--arch oneformer needs detectron2 and OneFormer's requirements "
                          f"importable (OneFormer's INSTALL.md): {e}")
    for name, sub in (("oneformer", root), ("oneformer.utils", os.path.join(root, "utils"))):
        if name not in sys.modules:
            m = types.ModuleType(name)
            m.__path__ = [sub]
            sys.modules[name] = m
    for name in ("diffdist", "natten"):
        try:
            importlib.import_module(name)
        except ImportError:
            m = types.ModuleType(name)

            class Missing:
                def __init__(self, *a, _name=name, **k):
                    raise ExportError(f"this OneFormer config needs the `{_name}` package")

            m.functional = m
            m.NeighborhoodAttention2D = Missing
            sys.modules[name] = m
            sys.modules[name + ".functional"] = m
    for mod in ("oneformer.config", "oneformer.data.datasets", "oneformer.modeling",
                "oneformer.oneformer_model"):
        importlib.import_module(mod)


@functools.lru_cache(maxsize=None)
def oneformer_cfg(package, config_file):
    """The detectron2 config as OneFormer's demo/demo.py setup_cfg builds it (frozen; built once
    per process for the spec, the model and parity_semantic's reference)."""
    if not config_file or not os.path.isfile(config_file):
        raise ExportError("--arch oneformer needs --d2-config, one of the checkout's "
                          "configs/*/*.yaml")
    install_oneformer_imports(package)
    from detectron2.config import get_cfg
    from detectron2.projects.deeplab import add_deeplab_config
    ocfg = sys.modules["oneformer.config"]
    cfg = get_cfg()
    add_deeplab_config(cfg)
    for add in (ocfg.add_common_config, ocfg.add_swin_config, ocfg.add_dinat_config,
                ocfg.add_convnext_config, ocfg.add_oneformer_config):
        add(cfg)
    cfg.merge_from_file(config_file)
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.WEIGHTS = ""
    cfg.freeze()
    return cfg


def oneformer_spec(package, config_file, input_size=None):
    from detectron2.data import MetadataCatalog
    cfg = oneformer_cfg(package, config_file)
    n = cfg.MODEL.SEM_SEG_HEAD.NUM_CLASSES
    labels = list(MetadataCatalog.get(cfg.DATASETS.TEST_PANOPTIC[0]).get("stuff_classes", []))
    if len(labels) != n:
        labels = [f"class_{i}" for i in range(n)]
    div = max(1, cfg.MODEL.ONE_FORMER.SIZE_DIVISIBILITY)
    w, h = input_size or (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST)
    if w % div or h % div:
        raise ExportError(f"--input-size {w} {h}: sides must be multiples of "
                          f"MODEL.ONE_FORMER.SIZE_DIVISIBILITY {div}")
    return {"labels": labels, "input_size": [w, h],
            "preprocess": {"color": "rgb" if cfg.INPUT.FORMAT == "RGB" else "bgr",
                           "mean": list(cfg.MODEL.PIXEL_MEAN), "std": list(cfg.MODEL.PIXEL_STD),
                           "resize": "letterbox", "letterbox_centre": False, "scale_up": True,
                           "letterbox_rounding": "nearest", "pad_mean": True,
                           "interpolation": "linear"},
            # Swin's window_reverse turns the traced batch into a constant: batch 1 only
            # (model.batch), checked on a second input
            "check_shapes": [(1, h, w), (1, h, w)], "batch": 1,
            "reference": "OneFormer " + os.path.basename(config_file) +
                         " (semantic task; ResizeShortestEdge and ImageList padding at a fixed "
                         f"{w}x{h} input)",
            "background": -1, "channels_last": False}


def _build_oneformer(package, config_file):
    import torch
    import torch.nn.functional as F
    from detectron2.modeling import build_model
    cfg = oneformer_cfg(package, config_file)
    model = build_model(cfg)
    # demo/defaults.py DefaultPredictor: task = f"The task is {task}"
    tokens = model.task_tokenizer("The task is semantic")

    class Semantic(torch.nn.Module):
        """OneFormer.forward's inference path for the semantic task on an already normalised
        batch: ImageList's bottom/right zero padding to size_divisibility, the task token through
        task_mlp, backbone and head, mask logits resized to the padded input (bilinear), cropped
        to the input, then semantic_inference."""

        def __init__(self):
            super().__init__()
            self.m = model
            self.register_buffer("task", tokens.float().unsqueeze(0), persistent=False)

        def forward(self, x):
            h, w = x.shape[-2:]
            d = self.m.size_divisibility
            xp = F.pad(x, (0, (w + d - 1) // d * d - w, 0, (h + d - 1) // d * d - h))
            out = self.m.sem_seg_head(self.m.backbone(xp),
                                      self.m.task_mlp(self.task.expand(x.shape[0], -1)))
            masks = F.interpolate(out["pred_masks"], size=xp.shape[-2:], mode="bilinear",
                                  align_corners=False)[:, :, :h, :w]
            cls = F.softmax(out["pred_logits"], dim=-1)[..., :-1]
            return torch.einsum("bqc,bqhw->bchw", cls, masks.sigmoid())

    return model, Semantic()


def build(arch, checkpoint=None, random_seed=None, package=None, model_config=None):
    """Returns (upstream model, exportable wrapper) in eval mode with the weights loaded."""
    import torch
    sd = load_state_dict(checkpoint) if checkpoint else None
    if random_seed is not None:
        torch.manual_seed(random_seed)
    if arch in TORCHVISION_ARCHS:
        model, wrapper = _build_torchvision(arch, sd)
    elif arch == "bisenet-face":
        model, wrapper = _build_bisenet(package, sd)
    elif arch == "topformer":
        model, wrapper = _build_topformer(package, arch_spec(arch, package, model_config))
    elif arch == "oneformer":
        model, wrapper = _build_oneformer(package, model_config)
        if sd is not None:  # a training checkpoint also holds the text branch
            sd = {k: v for k, v in sd.items() if not k.startswith(ONEFORMER_TRAIN_ONLY)}
    elif arch in SCHP_ARCHS:
        model, wrapper = _build_schp(package, arch)
    else:
        raise ExportError(f"unknown --arch {arch}")
    if sd is not None:
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ExportError(f"{checkpoint}: not a {arch} checkpoint: {str(e).splitlines()[0]}")
    else:
        randomize_weights(model, random_seed)
    model.eval()
    wrapper.eval()
    return model, wrapper


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=ARCHS)
    w = ap.add_mutually_exclusive_group(required=True)
    w.add_argument("--checkpoint", help="upstream .pth state_dict")
    w.add_argument("--random-weights", type=int, metavar="SEED",
                   help="random weights (tests, parity runs)")
    ap.add_argument("--package", help="upstream checkout (bisenet-face: face-parsing.PyTorch; "
                    "topformer: TopFormer; schp-*: Self-Correction-Human-Parsing; oneformer: "
                    "OneFormer)")
    ap.add_argument("--mm-config", dest="model_config",
                    help="topformer: the checkout's local_configs/topformer/*.py")
    ap.add_argument("--d2-config", dest="model_config",
                    help="oneformer: the checkout's configs/*/*.yaml")
    ap.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"),
                    help="oneformer: the fixed input (default: INPUT.MIN_SIZE_TEST square)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", help="file name stem (default ARCH)")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max abs diff traced vs eager, relative to max(1, |logits|)")
    args = ap.parse_args(argv)

    import torch
    name = args.name or args.arch
    t0 = time.time()
    try:
        spec = arch_spec(args.arch, args.package, args.model_config, args.input_size)
        ck_sha = check_hash_suffix(args.checkpoint) if args.checkpoint else None
        _, wrapper = build(args.arch, args.checkpoint, args.random_weights, args.package,
                           args.model_config)
    except (ExportError, OSError) as e:
        print(f"error: export_semantic: {e}", file=sys.stderr)
        return 2
    print(f"built {args.arch} ({sum(p.numel() for p in wrapper.parameters()) / 1e6:.2f} M "
          f"parameters) in {time.time() - t0:.1f} s", flush=True)

    gen = torch.Generator().manual_seed(1234)
    shapes = spec["check_shapes"]
    xs = [torch.randn(b, 3, h, w_, generator=gen) for b, h, w_ in shapes]
    worst = 0.0
    with torch.no_grad():
        ts = torch.jit.trace(wrapper, (xs[0],), check_trace=False)
        for x in xs:
            ref, got = wrapper(x), ts(x)
            if got.shape != ref.shape or got.shape[1] != len(spec["labels"]):
                print(f"error: export_semantic: traced output {tuple(got.shape)} vs eager "
                      f"{tuple(ref.shape)} for input {tuple(x.shape)} ({len(spec['labels'])} "
                      "classes expected)", file=sys.stderr)
                return 1
            d = float((got - ref).abs().max()) / max(1.0, float(ref.abs().max()))
            print(f"traced vs eager {tuple(x.shape)} -> {tuple(got.shape)}: max abs diff "
                  f"{float((got - ref).abs().max()):.3g} (|max| {float(ref.abs().max()):.3g})",
                  flush=True)
            worst = max(worst, d)
    if worst > args.tol:
        print(f"error: export_semantic: traced differs from eager by {worst:.3g} (relative) > "
              f"{args.tol}", file=sys.stderr)
        return 1

    os.makedirs(args.out, exist_ok=True)
    fname = f"{name}.pt"
    path = os.path.join(args.out, fname)
    info = {"exporter": "vfm scripts/export_semantic.py", "arch": args.arch,
            "weights": (os.path.basename(args.checkpoint) if args.checkpoint
                        else f"random seed {args.random_weights}")}
    torch.jit.save(ts, path + ".tmp", _extra_files={"vfm_export.json": json.dumps(info)})
    os.replace(path + ".tmp", path)
    sha = sha256_of(path)
    cfg = {
        "task": "segment",
        "description": f"{args.arch} exported by scripts/export_semantic.py ({info['weights']}); "
                       f"preprocessing as {spec['reference']}",
        "model": {"family": "semantic", "file": fname, "sha256": sha,
                  "input_size": spec["input_size"], "multiple_of": spec.get("multiple_of", 1),
                  "channels_last": spec.get("channels_last", True),
                  **({"batch": spec["batch"]} if "batch" in spec else {})},
        "preprocess": spec["preprocess"],
        "semantic": {"output": 0, "background": spec.get("background", 0)},
        "labels": spec["labels"],
        "outputs": {"json": True, "label_map": True, "overlay": True, "coco": True},
    }
    cfg_path = os.path.join(args.out, f"{name}.json")
    with open(cfg_path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(cfg_path + ".tmp", cfg_path)
    print(json.dumps({"model": path, "sha256": sha, "config": cfg_path,
                      "checkpoint_sha256": ck_sha, "traced_vs_eager_rel": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
