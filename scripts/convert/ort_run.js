'use strict';
// Runs ONNX models with onnxruntime-node (CPU) for onnx2ts.py --check and test_onnx_ops.py.
// usage: node ort_run.js SPEC.json [SPEC.json ...]
// SPEC: {"ort": "<path of node_modules/onnxruntime-node>", "model": "m.onnx", "threads": 2,
//        "inputs": [{"name", "file" (raw little-endian data), "dims", "type"}],
//        "outputs": ["name", ...], "outdir": "dir"}
// Writes outdir/out<k>.bin (raw float32) per output and outdir/outputs.json [{name, dims, type, file}],
// or {"error": message} there when the model fails (exit status 1 then).
const fs = require('fs');
const path = require('path');

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array,
  bool: Uint8Array, float16: Uint16Array,
};

async function runOne(spec) {
  const ort = require(spec.ort);
  const session = await ort.InferenceSession.create(spec.model, {
    intraOpNumThreads: spec.threads || 1, interOpNumThreads: 1, executionProviders: ['cpu'],
  });
  const feeds = {};
  for (const inp of spec.inputs) {
    const buf = fs.readFileSync(inp.file);
    const Arr = ARRAYS[inp.type];
    // copy into an aligned ArrayBuffer
    const data = new Arr(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    feeds[inp.name] = new ort.Tensor(inp.type, data, inp.dims);
  }
  const result = await session.run(feeds);
  const meta = [];
  spec.outputs.forEach((name, k) => {
    const t = result[name];
    if (!t) throw new Error('output ' + name + ' missing');
    const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data, Number);
    const file = path.join(spec.outdir, 'out' + k + '.bin');
    fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    meta.push({ name, dims: Array.from(t.dims), type: t.type, file });
  });
  fs.writeFileSync(path.join(spec.outdir, 'outputs.json'), JSON.stringify(meta));
}

async function main() {
  for (const file of process.argv.slice(2)) {
    const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    try {
      await runOne(spec);
    } catch (e) {
      const msg = String((e && e.message) || e).split('\n')[0];
      fs.writeFileSync(path.join(spec.outdir, 'outputs.json'), JSON.stringify({ error: msg }));
      console.error('ort_run: ' + spec.model + ': ' + msg);
      process.exitCode = 1;
    }
  }
}

main();
