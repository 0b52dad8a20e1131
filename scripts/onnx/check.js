// Runs an exported model in ONNX Runtime on the token ids `trainer encode`
// printed and compares P(positive) with `trainer predict --json` lines.
// A model with the wide n-gram path takes ngram_ids too: encode prints
// them after a tab on each line, and they are padded here with -1.
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
  const ints = (s) => s.split(' ').map(BigInt);
  const lines = fs.readFileSync(idsPath, 'utf8').split('\n').filter((l) => l !== '')
    .map((l) => l.split('\t'));
  const rows = lines.map((l) => ints(l[0]));
  const feats = lines.map((l) => (l.length > 1 ? ints(l[1]) : []));
  const want = fs.readFileSync(predPath, 'utf8').split('\n').filter((l) => l !== '')
    .map((l) => JSON.parse(l).prob);
  if (rows.length !== want.length || rows.length === 0) {
    throw new Error(`${idsPath} has ${rows.length} reviews, ${predPath} ${want.length}`);
  }
  const session = await ort.InferenceSession.create(modelPath);
  const ngrams = session.inputNames.includes('ngram_ids');
  if (ngrams && lines.some((l) => l.length < 2)) {
    throw new Error(`${modelPath} takes ngram_ids but ${idsPath} has lines without n-gram features`);
  }
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
    const feeds = {
      ids: new ort.Tensor('int64', ids, [part.length, time]),
      lengths: new ort.Tensor('int64', lengths, [part.length]),
    };
    if (ngrams) {
      const fpart = feats.slice(lo, lo + batch);
      const width = Math.max(...fpart.map((f) => f.length));
      const ng = new BigInt64Array(part.length * width).fill(-1n); // -1 = padding
      fpart.forEach((f, b) => ng.set(f, b * width));
      feeds.ngram_ids = new ort.Tensor('int64', ng, [part.length, width]);
    }
    const out = await session.run(feeds);
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
