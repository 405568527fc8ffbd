#!/usr/bin/env node
// A JavaScript implementation that speaks gradref's JSON case files (expected verdict: matches).
//
//   gradref validate --io json --command "node examples/implementations/node/backprop.js {case} {out}" \
//       --random-architectures --hidden relu,tanh,leaky_relu --output sigmoid,softmax,linear \
//       --loss bce,cross_entropy,square,half_square --l2 0.1
//
// Node's standard library only (fs): the case is one JSON object (docs/formats.md, "--io json"),
// whose "data" holds X, Y, W1, b1, ... as nested lists; the answer is {"dW1": [[...]], ..., "J": J}.
// Layout "columns" with "column" biases only; anything else (or an activation it does not know)
// exits 3, which gradref reports as an unsupported case, skipped.
// With a third argument --bug it forgets the 1/m in db (a planted mistake).
'use strict';
const fs = require('fs');

function unsupported(why) {
  process.stderr.write(`backprop.js: ${why}\n`);
  process.exit(3);
}

const zeros = (r, c) => Array.from({ length: r }, () => new Array(c).fill(0));
const shape = (A) => [A.length, A[0].length];

function matmul(A, B) { // (r x k) (k x c)
  const [r, k] = shape(A), c = B[0].length, out = zeros(r, c);
  for (let i = 0; i < r; i++) for (let t = 0; t < k; t++) {
    const a = A[i][t];
    if (a !== 0) for (let j = 0; j < c; j++) out[i][j] += a * B[t][j];
  }
  return out;
}
const transpose = (A) => A[0].map((_, j) => A.map((row) => row[j]));
const map2 = (A, B, f) => A.map((row, i) => row.map((a, j) => f(a, B[i][j], i, j)));
const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
const softplus = (z) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

// name -> [g(z), g'(z, a)]; "leaky_relu(s)" carries its slope
function activation(spec) {
  const m = /^(\w+)(?:\(([^)]*)\))?$/.exec(spec) || unsupported(`bad activation ${spec}`);
  const p = m[2] === undefined ? undefined : Number(m[2]);
  switch (m[1]) {
    case 'relu': return [(z) => Math.max(z, 0), (z) => (z > 0 ? 1 : 0)];
    case 'leaky_relu': { const s = p === undefined ? 0.01 : p;
      return [(z) => (z > 0 ? z : s * z), (z) => (z > 0 ? 1 : s)]; }
    case 'tanh': return [Math.tanh, (z, a) => 1 - a * a];
    case 'sigmoid': return [sigmoid, (z, a) => a * (1 - a)];
    case 'linear': return [(z) => z, () => 1];
    case 'softmax': return null; // per column, handled below
    default: return unsupported(`unsupported activation ${spec}`);
  }
}

function softmaxColumns(Z) {
  const [r, c] = shape(Z), A = zeros(r, c);
  for (let j = 0; j < c; j++) {
    let top = -Infinity, sum = 0;
    for (let i = 0; i < r; i++) top = Math.max(top, Z[i][j]);
    for (let i = 0; i < r; i++) { A[i][j] = Math.exp(Z[i][j] - top); sum += A[i][j]; }
    for (let i = 0; i < r; i++) A[i][j] /= sum;
  }
  return A;
}

function main(casePath, outPath, bug) {
  const c = JSON.parse(fs.readFileSync(casePath, 'utf8'));
  if (c.layout !== 'columns' || c.bias !== 'column') unsupported(`layout ${c.layout} with ${c.bias} biases`);
  const { activations, loss, l2 } = c.network;
  const L = activations.length, m = c.m, d = c.data;
  const acts = activations.map(activation);
  const W = [null], b = [null];
  for (let l = 1; l <= L; l++) { W.push(d[`W${l}`]); b.push(d[`b${l}`]); }
  const Zs = [null], As = [d.X];
  for (let l = 1; l <= L; l++) { // Z = W A + b, A = g(Z)
    const Z = map2(matmul(W[l], As[l - 1]), b[l].map((row) => [row[0]]), (wa, _, i) => wa + b[l][i][0]);
    Zs.push(Z);
    As.push(acts[l - 1] === null ? softmaxColumns(Z) : Z.map((row) => row.map(acts[l - 1][0])));
  }
  const Y = d.Y, A = As[L], Z = Zs[L];
  let J = 0;
  let dZ;
  const last = activations[L - 1];
  if (loss === 'bce') { // from the logits, sigmoid output
    A.forEach((row, i) => row.forEach((_, j) => { J += softplus(Z[i][j]) - Y[i][j] * Z[i][j]; }));
    dZ = map2(A, Y, (a, y) => a - y);
  } else if (loss === 'cross_entropy') { // softmax output
    A.forEach((row, i) => row.forEach((a, j) => { if (Y[i][j]) J -= Y[i][j] * Math.log(a); }));
    const colsum = Y[0].map((_, j) => Y.reduce((s, row) => s + row[j], 0));
    dZ = map2(A, Y, (a, y, i, j) => a * colsum[j] - y);
  } else if (loss === 'square' || loss === 'half_square') {
    const k = loss === 'square' ? 1 : 0.5;
    A.forEach((row, i) => row.forEach((a, j) => { J += k * (a - Y[i][j]) ** 2; }));
    const dA = map2(A, Y, (a, y) => 2 * k * (a - y));
    if (acts[L - 1] === null) { // softmax Jacobian per column
      const dot = A[0].map((_, j) => A.reduce((s, row, i) => s + row[j] * dA[i][j], 0));
      dZ = map2(A, dA, (a, g, i, j) => a * (g - dot[j]));
    } else dZ = map2(dA, Z, (g, z, i, j) => g * acts[L - 1][1](z, A[i][j]));
  } else unsupported(`unsupported loss ${loss} after ${last}`);
  let penalty = 0;
  for (let l = 1; l <= L; l++) W[l].forEach((row) => row.forEach((w) => { penalty += w * w; }));
  J = J / m + (l2 / (2 * m)) * penalty;
  const out = { J };
  for (let l = L; l >= 1; l--) {
    out[`dW${l}`] = map2(matmul(dZ, transpose(As[l - 1])), W[l], (g, w) => g / m + (l2 / m) * w);
    out[`db${l}`] = dZ.map((row) => [row.reduce((s, v) => s + v, 0) / (bug ? 1 : m)]);
    if (l > 1) {
      const dA = matmul(transpose(W[l]), dZ), g = acts[l - 2];
      if (g === null) unsupported('softmax in a hidden layer');
      dZ = map2(dA, Zs[l - 1], (v, z, i, j) => v * g[1](z, As[l - 1][i][j]));
    }
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
}

const args = process.argv.slice(2);
if (args.length < 2 || args.length > 3 || (args.length === 3 && args[2] !== '--bug')) {
  process.stderr.write('usage: node backprop.js CASE.json OUT.json [--bug]\n');
  process.exit(1);
}
main(args[0], args[1], args.length === 3);
