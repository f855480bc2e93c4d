#!/usr/bin/env python3
"""faceapi_recog2ts.py - face-api's FaceRecognitionNet (128-d face descriptor) to TorchScript.

usage: faceapi_recog2ts.py face_recognition_model-weights_manifest.json OUT.pt [--batch N] [--check]

face-api (npm @vladmandic/face-api, folder model/) ships this net as a weights manifest only:
no graph, the architecture is code (a ResNet-34-like net on 150x150 RGB faces), so tfjs2ts.py
cannot read it.  This script rebuilds that architecture in torch from the manifest's weights
(same shard reader and dequantisation as tfjs2ts.py).

Interface (as FaceRecognitionNet.forwardInput after toBatchTensor(150)):
  input  [N, 150, 150, 3] float32, RGB 0..255 (the face crop already square and resized)
  output [N, 128] float32 descriptor (not normalised; face-api compares them by euclidean distance)
The mean-RGB subtraction and /255 happen inside the module.

--check compares with face-api itself run in Node (dist/face-api.node-wasm.js on the tfjs CPU
backend; the face-api package is looked for next to the manifest, ../package.json, and
@tensorflow/tfjs + @tensorflow/tfjs-backend-wasm are installed into $VFM_NPM_CACHE
(default /tmp/vfm-npm) on first use).  One JSON line; exit 1 when ratio > 1e-4.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfjs2ts  # noqa: E402

MEAN_RGB = (122.782, 117.001, 104.298)
LAYERS = [('conv32_1', False), ('conv32_2', False), ('conv32_3', False),
          ('conv64_down', True), ('conv64_1', False), ('conv64_2', False), ('conv64_3', False),
          ('conv128_down', True), ('conv128_1', False), ('conv128_2', False),
          ('conv256_down', True), ('conv256_1', False), ('conv256_2', False),
          ('conv256_down_out', True)]


def _same_pad(x, k):
    # stride-1 'same': total k-1, extra at the end (TF)
    t = k - 1
    return F.pad(x, (t // 2, t - t // 2, t // 2, t - t // 2))


class FaceRecognitionNet(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.names = []
        for k, v in w.items():
            if k.endswith('/filters'):
                v = v.permute(3, 2, 0, 1).contiguous()       # HWIO -> OIHW
            elif k.endswith('/scale/weights') or k.endswith('/scale/biases') or k.endswith('/conv/bias'):
                v = v.reshape(1, -1, 1, 1)
            self.register_buffer(k.replace('/', '__'), v)
        self.register_buffer('mean', torch.tensor(MEAN_RGB, dtype=torch.float32).reshape(1, 3, 1, 1))

    def p(self, name):
        return getattr(self, name.replace('/', '__'))

    def conv_layer(self, x, prefix, stride, relu, same):
        filt = self.p(prefix + '/conv/filters')
        if same:
            x = _same_pad(x, filt.shape[2])
        y = F.conv2d(x, filt, None, stride)
        y = y + self.p(prefix + '/conv/bias')
        y = y * self.p(prefix + '/scale/weights') + self.p(prefix + '/scale/biases')
        return torch.relu(y) if relu else y

    def residual(self, x, prefix, down):
        if down:
            out = self.conv_layer(x, prefix + '/conv1', 2, True, False)
        else:
            out = self.conv_layer(x, prefix + '/conv1', 1, True, True)
        out = self.conv_layer(out, prefix + '/conv2', 1, False, True)
        if down:
            pooled = F.avg_pool2d(x, 2, 2)
            dh, dw = pooled.shape[2] - out.shape[2], pooled.shape[3] - out.shape[3]
            if dh or dw:   # face-api appends one zero row and one zero column
                out = F.pad(out, (0, 1, 0, 1))
            dc = out.shape[1] - pooled.shape[1]
            if dc:
                pooled = F.pad(pooled, (0, 0, 0, 0, 0, dc))
            x = pooled
        return torch.relu(out + x)

    def forward(self, x):
        x = (x.permute(0, 3, 1, 2) - self.mean) / 255.0
        x = self.conv_layer(x, 'conv32_down', 2, True, False)
        x = F.max_pool2d(x, 3, 2)
        for name, down in LAYERS:
            x = self.residual(x, name, down)
        x = x.mean(dim=(2, 3))
        return torch.matmul(x, self.fc)


def run_faceapi(manifest, x, workdir):
    d = tfjs2ts.npm_dir()
    nm = os.path.join(d, 'node_modules')
    need = [p for p in ('@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm')
            if not os.path.isfile(os.path.join(nm, p, 'package.json'))]
    if need:
        ver = '4.22.0'
        print('faceapi_recog2ts: installing %s into %s' % (' '.join(need), d), file=sys.stderr)
        r = subprocess.run(['npm', 'install', '--no-audit', '--no-fund', '--prefix', d] +
                           ['%s@%s' % (p, ver) for p in need], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise tfjs2ts.ConvertError('npm install failed')
    mdir = os.path.dirname(os.path.abspath(manifest))
    pkg = os.path.dirname(mdir)
    lib = os.path.join(pkg, 'dist', 'face-api.node-wasm.js')
    if not os.path.isfile(lib):
        raise tfjs2ts.ConvertError('face-api package not found (%s)' % lib)
    x.numpy().astype(np.float32).tofile(os.path.join(workdir, 'in.bin'))
    js = """
const fs = require('fs');
const faceapi = require(%s);
(async () => {
  await faceapi.tf.setBackend('cpu');
  await faceapi.tf.ready();
  const net = faceapi.nets.faceRecognitionNet;
  await net.loadFromDisk(%s);
  const b = fs.readFileSync(%s);
  const x = faceapi.tf.tensor(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)), %s);
  const t0 = Date.now();
  const y = await net.forward(x);
  const ms = Date.now() - t0;
  fs.writeFileSync(%s, Buffer.from(new Float32Array(await y.data()).buffer));
  fs.writeFileSync(%s, JSON.stringify({shape: y.shape, ms}));
})().catch((e) => { process.stderr.write(String(e && e.message || e) + '\\n'); process.exit(1); });
""" % (json.dumps(lib), json.dumps(mdir), json.dumps(os.path.join(workdir, 'in.bin')),
       json.dumps(list(x.shape)), json.dumps(os.path.join(workdir, 'out.bin')),
       json.dumps(os.path.join(workdir, 'out.json')))
    jsf = os.path.join(workdir, 'run.js')
    with open(jsf, 'w') as f:
        f.write(js)
    r = subprocess.run(['node', jsf], env=dict(os.environ, NODE_PATH=nm),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        raise tfjs2ts.ConvertError('face-api run failed: %s' % (lines[-1] if lines else r.returncode))
    with open(os.path.join(workdir, 'out.json')) as f:
        info = json.load(f)
    return np.fromfile(os.path.join(workdir, 'out.bin'), dtype=np.float32).reshape(info['shape']), info['ms']


def main(argv=None):
    ap = argparse.ArgumentParser(prog='faceapi_recog2ts.py')
    ap.add_argument('manifest')
    ap.add_argument('out')
    ap.add_argument('--batch', type=int, default=1)
    ap.add_argument('--check', action='store_true')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args(argv)
    t0 = time.time()
    try:
        try:
            with open(a.manifest) as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            raise tfjs2ts.ConvertError('cannot read manifest: %s' % e)
        if isinstance(manifest, dict):
            manifest = manifest.get('weightsManifest', [])
        w = tfjs2ts.load_weights(a.manifest, manifest)
        need = ['conv32_down/conv/filters', 'fc'] + ['%s/conv2/conv/filters' % n for n, _ in LAYERS]
        missing = [n for n in need if n not in w]
        if missing:
            raise tfjs2ts.ConvertError('not a face-api FaceRecognitionNet manifest (no %s)' % missing[0])
        m = FaceRecognitionNet(w).eval()
        g = torch.Generator().manual_seed(a.seed)
        x = torch.rand(a.batch, 150, 150, 3, generator=g) * 255.0
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore', torch.jit.TracerWarning)   # shapes fixed on purpose
            tr = torch.jit.trace(m, (x,), check_trace=False)
        d = os.path.dirname(os.path.abspath(a.out))
        fd, tmp = tempfile.mkstemp(prefix='.faceapi-', suffix='.pt', dir=d)
        os.close(fd)
        try:
            meta = {'source': os.path.basename(a.manifest), 'converter': 'faceapi_recog2ts.py',
                    'inputs': [{'name': 'input', 'shape': list(x.shape), 'dtype': 'float32',
                                'range': '0..255 RGB'}],
                    'outputs': [{'name': 'descriptor', 'shape': [a.batch, 128], 'dtype': 'float32'}]}
            torch.jit.save(tr, tmp, _extra_files={'tfjs2ts.json': json.dumps(meta)})
            os.replace(tmp, a.out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        secs = time.time() - t0
        print('faceapi_recog2ts: %s -> %s in %.1fs' % (a.manifest, a.out, secs), file=sys.stderr)
        if a.check:
            tm = torch.jit.load(a.out)
            with torch.no_grad():
                y = tm(x).numpy()
            with tempfile.TemporaryDirectory(prefix='faceapi-') as wd:
                ref, ms = run_faceapi(a.manifest, x, wd)
            diff = float(np.abs(y.astype(np.float64) - ref).max())
            rng = float(ref.max() - ref.min())
            ok = diff / rng <= 1e-4
            print(json.dumps({'model': a.manifest, 'pass': ok, 'convert_s': round(secs, 2), 'tfjs_ms': ms,
                              'outputs': [{'name': 'descriptor', 'shape': list(y.shape), 'max_abs_diff': diff,
                                           'range': rng, 'ratio': diff / rng}]}))
            return 0 if ok else 1
        return 0
    except tfjs2ts.ConvertError as e:
        print('error: faceapi_recog2ts: %s: %s' % (a.manifest, e), file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
