// Metric-state update for one batch of rows [rows, C] of logits (or
// probabilities) and their labels (the grid may be split over x and y).
// Everything lands in atomic counters that live on the
// GPU across batches and are read back once at the end:
//
//   counters  scalars, per-class counts, calibration bins (layout below)
//   confusion C x C counts (label row, predicted column), when kept
//   classwise [C, B] x (count, Σp lo, Σp hi, positives) for class-wise ECE
//             (count of bin 0 left at 0, derived on the host)
//   scoreHist [2, C, S]: all samples / positives by log-odds bin of p_k
//   samples   per row: label, pred, confidence bits (adaptive ECE, bootstrap)
//   probsOut  per row: the probabilities (exact ranking metrics), when kept
//
// Float sums are fixed point: every value v >= 0 is rounded to an integer
// q = round(v * 2^24) and added to a 64-bit counter held as two u32 words
// (low word atomicAdd, carry into the high word). Integer addition is exact
// and order independent, so the sums cannot drift however many samples are
// added: the only error is the per-value rounding, at most 2^-25.
//
// Two entry points with the same arithmetic: `main` gives each row a
// workgroup (threads split the classes, tree reductions), `serial` gives each
// row one thread (no barriers): few classes, or software adapters where
// barriers cost more than the arithmetic.
//
// calBin of a probability is computed as ceil(c * B) in float32: the float32
// product rounds the float32 images of edge values (0.2, 1/3, ...) back onto
// the edge, so they land in the same bin as under the float64 rule.
//
// Non-finite values: a row holding a NaN or an infinity (tested on the bits,
// which no fast-math assumption can fold away) is counted in N_NONFINITE,
// the first one's position in the run kept, and left out of everything else:
// the host refuses the state rather than report metrics of garbage.
//
// Ties: pred is the lowest index among equal maxima; the label's rank counts
// the classes scored above it, plus tied classes with a lower index (lower
// rule) or with a higher index (scikit-learn's rule).

struct Params {
  rows: u32,
  C: u32,
  calBins: u32,
  scoreBins: u32,
  invT: f32,
  isLogits: u32,
  keepConfusion: u32,
  keepScores: u32,
  rowBase: u32, // rows recorded before this batch (position of row 0 in the run)
}

override WG: u32 = 128u;
const MAX_RANK: u32 = 10u;
const FIXED_SCALE: f32 = 16777216.0; // 2^24
const LOG_LOSS_EPS: f32 = 2.220446049250313e-16;
const NLL_MAX: f32 = 36.04365338911715; // -ln(eps): sklearn's clipping
// round(-ln(eps) * 2^24): a clipped loss is added as this exact fixed-point
// value, because NLL_MAX as f32 is 1.8e-6 below -ln(eps) and every sample
// with a zero true-class probability would carry that error into the mean.
const NLL_MAX_FIXED: u32 = 604712158u;
const SCORE_MIN: f32 = -48.0; // log-odds range [-48, 16] of the ranking histograms
const SCORE_MAX: f32 = 16.0;

// counters layout (u32 words)
const N_VALID: u32 = 0u;
const N_INVALID: u32 = 1u;
const RANK_LOWER: u32 = 2u;   // [10]
const RANK_SKLEARN: u32 = 12u; // [10]
const NLL_SUM: u32 = 22u;     // lo, hi
const BRIER_SUM: u32 = 24u;   // lo, hi
const N_NONFINITE: u32 = 26u; // rows with a NaN or infinite value (left out of every count)
const FIRST_NONFINITE: u32 = 27u; // ~(position in the run) of the first such row (atomicMax)
const PER_CLASS: u32 = 32u;   // labelCount[C], predCount[C], truePositive[C], then calibration bins

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> counters: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> confusion: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> classwise: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> scoreHist: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> samples: array<u32>;
@group(0) @binding(8) var<storage, read_write> probsOut: array<f32>;

var<workgroup> redF: array<f32, WG>;
var<workgroup> redU: array<u32, WG>;
var<workgroup> redV: array<u32, WG>;
var<workgroup> redW: array<u32, WG>;
var<workgroup> rowLabel: i32;
var<workgroup> rowBadFlag: u32;
var<workgroup> labelInfo: vec3f; // q, calibration bin, score bin of the label's class

fn toFixed(v: f32) -> u32 {
  return u32(round(max(v, 0.0) * FIXED_SCALE));
}

fn addCounter64(i: u32, q: u32) {
  let old = atomicAdd(&counters[i], q);
  if (old + q < old) { atomicAdd(&counters[i + 1u], 1u); }
}

fn addClasswise64(i: u32, q: u32) {
  let old = atomicAdd(&classwise[i], q);
  if (old + q < old) { atomicAdd(&classwise[i + 1u], 1u); }
}

// Equal-width (lo, hi] bin of a value in [0, 1]: 0 -> bin 0, 1 -> last bin.
fn calBin(c: f32) -> u32 {
  return u32(clamp(i32(ceil(c * f32(p.calBins))) - 1, 0, i32(p.calBins) - 1));
}

// Equal-width bin of the log-odds ln(q / (1 - q)) over [-48, 16], given
// q and ln q (from the logits directly, so no logarithm per element).
fn scoreBin(q: f32, logq: f32) -> u32 {
  if (q <= 0.0) { return 0u; }
  if (q >= 1.0) { return p.scoreBins - 1u; }
  // ln(1 - q) loses everything for tiny q; -q - q^2/2 is exact to f32 there.
  var log1m = -q - 0.5 * q * q;
  if (q >= 1e-3) { log1m = log(1.0 - q); }
  let f = floor((logq - log1m - SCORE_MIN) / (SCORE_MAX - SCORE_MIN) * f32(p.scoreBins));
  return u32(clamp(f, 0.0, f32(p.scoreBins - 1u)));
}

fn sumF(v: f32, lid: u32) -> f32 {
  redF[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { redF[lid] = redF[lid] + redF[lid + s]; }
    workgroupBarrier();
  }
  let total = redF[0];
  workgroupBarrier();
  return total;
}

// Softmax denominator term of one value (logits), or its clipped value
// (probabilities, for the log loss, which renormalizes after clipping).
fn denomTerm(v: f32, m: f32) -> f32 {
  if (p.isLogits == 1u) { return exp((v - m) * p.invT); }
  return clamp(v, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
}

// Probability of one class and its histogram updates; returns
// (q, calibration bin, score bin) so the label's positives land in the
// same bins as its count.
fn scatterClass(base: u32, c: u32, v: f32, m: f32, denom: f32, logDenom: f32) -> vec3f {
  var q = v;
  var logq: f32;
  if (p.isLogits == 1u) {
    let z = (v - m) * p.invT;
    q = exp(z) / denom;
    logq = z - logDenom;
  } else {
    logq = log(q);
  }
  let qb = calBin(q);
  let sb = scoreBin(q, logq);
  let cb = (c * p.calBins + qb) * 4u;
  // Bin 0 (most classes of a many-class softmax) is not counted here: the
  // host derives it as n minus the other bins, one atomic less per element.
  if (qb != 0u) { atomicAdd(&classwise[cb], 1u); }
  let fq = toFixed(q);
  if (fq != 0u) { addClasswise64(cb + 1u, fq); }
  atomicAdd(&scoreHist[c * p.scoreBins + sb], 1u);
  if (p.keepScores == 1u) { probsOut[base + c] = q; }
  return vec3f(q, f32(qb), f32(sb));
}

// Per-row totals: counts, NLL, Brier, calibration bin, positives, record.
fn finishRow(row: u32, y: u32, pred: u32, m: f32, vy: f32, denom: f32, sumSq: f32,
             rankLower: u32, rankSklearn: u32, label: vec3f) {
  let C = p.C;
  let probLabel = label.x;
  var conf = m;
  if (p.isLogits == 1u) { conf = 1.0 / denom; }
  let correct = pred == y;
  atomicAdd(&counters[N_VALID], 1u);
  if (rankLower < MAX_RANK) { atomicAdd(&counters[RANK_LOWER + rankLower], 1u); }
  if (rankSklearn < MAX_RANK) { atomicAdd(&counters[RANK_SKLEARN + rankSklearn], 1u); }
  var nll: f32;
  if (p.isLogits == 1u) {
    nll = log(denom) - (vy - m) * p.invT;
  } else {
    nll = log(denom) - log(clamp(vy, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS));
  }
  addCounter64(NLL_SUM, select(toFixed(nll), NLL_MAX_FIXED, nll >= NLL_MAX));
  addCounter64(BRIER_SUM, toFixed(sumSq - 2.0 * probLabel + 1.0));
  atomicAdd(&counters[PER_CLASS + y], 1u);
  atomicAdd(&counters[PER_CLASS + C + pred], 1u);
  if (correct) { atomicAdd(&counters[PER_CLASS + 2u * C + y], 1u); }
  if (p.keepConfusion == 1u) { atomicAdd(&confusion[y * C + pred], 1u); }
  let bin = PER_CLASS + 3u * C + calBin(conf) * 4u;
  atomicAdd(&counters[bin], 1u);
  addCounter64(bin + 1u, toFixed(conf));
  if (correct) { atomicAdd(&counters[bin + 3u], 1u); }
  atomicAdd(&classwise[(y * p.calBins + u32(label.y)) * 4u + 3u], 1u);
  atomicAdd(&scoreHist[C * p.scoreBins + y * p.scoreBins + u32(label.z)], 1u);
  samples[row * 3u] = y;
  samples[row * 3u + 1u] = pred;
  samples[row * 3u + 2u] = bitcast<u32>(conf);
}

fn rejectRow(row: u32) {
  atomicAdd(&counters[N_INVALID], 1u);
  samples[row * 3u] = 0xffffffffu;
}

// 1 when v is NaN or +-infinity (exponent bits all ones), else 0.
fn nonFinite(v: f32) -> u32 {
  return select(0u, 1u, (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u);
}

fn rejectNonFinite(row: u32) {
  atomicAdd(&counters[N_NONFINITE], 1u);
  atomicMax(&counters[FIRST_NONFINITE], ~(p.rowBase + row));
  samples[row * 3u] = 0xffffffffu;
}

// One workgroup per row.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let C = p.C;
  let base = row * C;

  if (lid == 0u) { rowLabel = labels[row]; }
  let label = workgroupUniformLoad(&rowLabel);
  if (label < 0 || label >= i32(C)) {
    if (lid == 0u) { rejectRow(row); }
    return;
  }
  let y = u32(label);

  // 1. Row maximum and argmax (lowest index among equal maxima).
  var best = -3.4e38;
  var bestIdx = 0xffffffffu;
  var bad = 0u;
  for (var c = lid; c < C; c = c + WG) {
    let v = x[base + c];
    bad = bad | nonFinite(v);
    if (v > best || bestIdx == 0xffffffffu) { best = v; bestIdx = c; }
  }
  redF[lid] = best;
  redU[lid] = bestIdx;
  redV[lid] = bad;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      redV[lid] = redV[lid] | redV[lid + s];
      let vo = redF[lid + s];
      let io = redU[lid + s];
      if (io != 0xffffffffu &&
          (redU[lid] == 0xffffffffu || vo > redF[lid] || (vo == redF[lid] && io < redU[lid]))) {
        redF[lid] = vo;
        redU[lid] = io;
      }
    }
    workgroupBarrier();
  }
  let m = redF[0];
  let pred = redU[0];
  if (lid == 0u) { rowBadFlag = redV[0]; }
  // Uniform load (with its barriers): the whole workgroup leaves together.
  if (workgroupUniformLoad(&rowBadFlag) != 0u) {
    if (lid == 0u) { rejectNonFinite(row); }
    return;
  }

  // 2. Softmax denominator (or clipped row sum).
  var part = 0.0;
  for (var c = lid; c < C; c = c + WG) { part = part + denomTerm(x[base + c], m); }
  let denom = sumF(part, lid);
  let logDenom = log(denom);

  // 3. Per class: probability, rank of the label, Brier, the histograms.
  let vy = x[base + y];
  var greater = 0u;
  var tieBelow = 0u;
  var tieAbove = 0u;
  var sq = 0.0;
  for (var c = lid; c < C; c = c + WG) {
    let v = x[base + c];
    if (v > vy) { greater = greater + 1u; }
    else if (v == vy && c < y) { tieBelow = tieBelow + 1u; }
    else if (v == vy && c > y) { tieAbove = tieAbove + 1u; }
    let r = scatterClass(base, c, v, m, denom, logDenom);
    sq = sq + r.x * r.x;
    if (c == y) { labelInfo = r; }
  }
  redU[lid] = greater;
  redV[lid] = tieBelow;
  redW[lid] = tieAbove;
  redF[lid] = sq;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      redU[lid] = redU[lid] + redU[lid + s];
      redV[lid] = redV[lid] + redV[lid + s];
      redW[lid] = redW[lid] + redW[lid + s];
      redF[lid] = redF[lid] + redF[lid + s];
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  let above = redU[0];
  finishRow(row, y, pred, m, vy, denom, redF[0], above + redV[0], above + redW[0], labelInfo);
}

// One thread per row (few classes): the same steps without reductions.
@compute @workgroup_size(WG)
fn serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + lid;
  if (row >= p.rows) { return; }
  let C = p.C;
  let base = row * C;
  let label = labels[row];
  if (label < 0 || label >= i32(C)) {
    rejectRow(row);
    return;
  }
  let y = u32(label);
  var m = x[base];
  var pred = 0u;
  var bad = nonFinite(m);
  for (var c = 1u; c < C; c = c + 1u) {
    let v = x[base + c];
    bad = bad | nonFinite(v);
    if (v > m) { m = v; pred = c; }
  }
  if (bad != 0u) {
    rejectNonFinite(row);
    return;
  }
  // Blocked sums (blocks of 32, then the block sums) keep the float32
  // rounding of a long row close to that of the workgroup's tree sum.
  var denom = 0.0;
  for (var c0 = 0u; c0 < C; c0 = c0 + 32u) {
    var block = 0.0;
    for (var c = c0; c < min(c0 + 32u, C); c = c + 1u) { block = block + denomTerm(x[base + c], m); }
    denom = denom + block;
  }
  let logDenom = log(denom);
  let vy = x[base + y];
  var greater = 0u;
  var tieBelow = 0u;
  var tieAbove = 0u;
  var sq = 0.0;
  var block = 0.0;
  var info = vec3f(0.0);
  for (var c = 0u; c < C; c = c + 1u) {
    let v = x[base + c];
    if (v > vy) { greater = greater + 1u; }
    else if (v == vy && c < y) { tieBelow = tieBelow + 1u; }
    else if (v == vy && c > y) { tieAbove = tieAbove + 1u; }
    let r = scatterClass(base, c, v, m, denom, logDenom);
    block = block + r.x * r.x;
    if ((c & 31u) == 31u) { sq = sq + block; block = 0.0; }
    if (c == y) { info = r; }
  }
  sq = sq + block;
  finishRow(row, y, pred, m, vy, denom, sq, greater + tieBelow, greater + tieAbove, info);
}
