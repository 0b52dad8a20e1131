// Runs an exported model in ONNX Runtime on the token ids `trainer encode`
// printed and compares P(positive) with `trainer predict --json` lines.
// Usage: node check.js MODEL.onnx IDS.txt PREDICT.jsonl TOLERANCE
// Exit status 1 when any review differs by more than TOLERANCE.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, idsPath, predPath, tolArg] = process.argv.slice(2);
  if (!tolArg) {
    console.error('usage: node check.js MODEL.onnx IDS.txt PREDICT.jsonl TOLERANCE');
    process.exit(2);
  }
  const tol = Number(tolArg);
  const rows = fs.readFileSync(idsPath, 'utf8').split('\n').filter((l) => l !== '')
    .map((l) => l.split(' ').map(BigInt));
  const want = fs.readFileSync(predPath, 'utf8').split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l).prob);
  if (rows.length !== want.length || rows.length === 0) {
    throw new Error(`${idsPath} has ${rows.length} reviews, ${predPath} ${want.length}`);
  }
  const session = await ort.InferenceSession.create(modelPath);
  const batch = 64;
  let worst = 0, worstAt = -1, bad = 0;
  for (let lo = 0; lo < rows.length; lo += batch) {
    const part = rows.slice(lo, lo + batch);
    const time = Math.max(...part.map((r) => r.length));
    const ids = new BigInt64Array(part.length * time); // 0 = <pad>
    const lengths = new BigInt64Array(part.length);
    part.forEach((r, b) => {
      ids.set(r, b * time);
      lengths[b] = BigInt(r.length);
    });
    const out = await session.run({
      ids: new ort.Tensor('int64', ids, [part.length, time]),
      lengths: new ort.Tensor('int64', lengths, [part.length]),
    });
    const prob = out.prob.data;
    for (let b = 0; b < part.length; b++) {
      const d = Math.abs(prob[b] - want[lo + b]);
      if (!(d <= tol)) bad++;
      if (!(d <= worst)) { worst = d; worstAt = lo + b; }
    }
  }
  console.log(`${modelPath}: ${rows.length} reviews, max |onnx - predict| = ${worst.toExponential(2)}` +
    ` (review ${worstAt + 1}), ${bad} over ${tol}`);
  if (bad > 0) process.exit(1);
}

main().catch((e) => { console.error(`check.js: ${e.message}`); process.exit(1); });
