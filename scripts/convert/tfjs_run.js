// tfjs_run.js MODEL.json WORKDIR
// Runs a TFJS graph model with @tensorflow/tfjs (pure-JS CPU backend) for tfjs2ts.py --check.
// WORKDIR/io.json: {"inputs": [{"name", "shape", "dtype", "file"}], "outputs": ["node:idx", ...]}
// Inputs are raw little-endian float32 / int32 / uint8(bool) files. Writes WORKDIR/out<k>.bin
// (raw float32) and WORKDIR/out.json {"outputs": [{"name", "shape", "file"}], "ms"}.
// The model is loaded from the file system with a custom IOHandler (no http).
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [modelPath, workdir] = process.argv.slice(2);
  if (!modelPath || !workdir) throw new Error('usage: tfjs_run.js MODEL.json WORKDIR');
  const tf = require('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const mj = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const dir = path.dirname(modelPath);
  const specs = [];
  const parts = [];
  for (const group of mj.weightsManifest || []) {
    for (const p of group.paths || []) parts.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(parts);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const artifacts = {
    modelTopology: mj.modelTopology,
    weightSpecs: specs,
    weightData,
    format: mj.format,
    generatedBy: mj.generatedBy,
    convertedBy: mj.convertedBy,
    signature: mj.signature,
    userDefinedMetadata: mj.userDefinedMetadata,
    modelInitializer: mj.modelInitializer,
  };
  const handler = { load: async () => artifacts };
  const model = await tf.loadGraphModel(handler);
  const io = JSON.parse(fs.readFileSync(path.join(workdir, 'io.json'), 'utf8'));
  const feeds = {};
  for (const inp of io.inputs) {
    const b = fs.readFileSync(inp.file);
    const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    let data;
    if (inp.dtype === 'float32') data = new Float32Array(ab);
    else if (inp.dtype === 'int32') data = new Int32Array(ab);
    else data = new Uint8Array(ab);
    feeds[inp.name] = tf.tensor(data, inp.shape, inp.dtype);
  }
  const t0 = Date.now();
  let outs = await model.executeAsync(feeds, io.outputs);
  const ms = Date.now() - t0;
  if (!Array.isArray(outs)) outs = [outs];
  const res = { outputs: [], ms };
  for (let k = 0; k < outs.length; k++) {
    const t = outs[k];
    const data = Float32Array.from(await t.data(), (v) => Number(v));
    const file = path.join(workdir, `out${k}.bin`);
    fs.writeFileSync(file, Buffer.from(data.buffer));
    res.outputs.push({ name: io.outputs[k], shape: t.shape, dtype: t.dtype, file });
  }
  fs.writeFileSync(path.join(workdir, 'out.json'), JSON.stringify(res));
}

main().catch((e) => {
  process.stderr.write(`${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
