/**
 * Truncated Newton (Newton-CG) minimisation for the convex calibration
 * objectives (vector and matrix scaling). The Hessian is never formed: the
 * problem gives Hessian-vector products, and conjugate gradients solve each
 * Newton system to a relative residual min(0.5, √|g|) (superlinear
 * convergence). Deterministic: fixed caps and tolerances, a backtracking line
 * search with a fixed schedule. Chosen over L-BFGS because the objectives are
 * often ill-conditioned (few samples per class), where L-BFGS needs thousands
 * of iterations and stalls at float64 rounding before the gradient is small.
 */

/** A twice-differentiable objective. */
export interface SmoothProblem {
  /** f(x); writes ∇f(x) into `grad` and keeps what `hessVec` needs at x. */
  value(x: Float64Array, grad: Float64Array): number;
  /** ∇²f v at the point of the last `value` call, into `out`. */
  hessVec(v: Float64Array, out: Float64Array): void;
}

/** Options of {@link minimizeNewtonCg}. */
export interface NewtonCgOptions {
  /** Newton iterations at most (default 200). */
  maxIter?: number;
  /** Stop when max |∇f| falls below this (default 1e-12). */
  gtol?: number;
  /** Conjugate-gradient iterations per Newton step at most (default 1000). */
  cgMaxIter?: number;
}

/** Result of {@link minimizeNewtonCg}. */
export interface NewtonCgResult {
  /** The minimiser found. */
  x: Float64Array;
  /** f at `x`. */
  f: number;
  /** max |∇f| at `x`. */
  gradMax: number;
  /** Newton iterations taken. */
  iterations: number;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Approximately solves H d = -g by conjugate gradients from d = 0. */
function newtonDirection(p: SmoothProblem, g: Float64Array, cgMaxIter: number): Float64Array {
  const dim = g.length;
  const d = new Float64Array(dim), r = Float64Array.from(g, (v) => -v);
  const dir = Float64Array.from(r), hd = new Float64Array(dim);
  const gNorm = Math.sqrt(dot(g, g));
  const tol = Math.min(0.5, Math.sqrt(gNorm)) * gNorm;
  let rr = dot(r, r);
  for (let k = 0; k < cgMaxIter && Math.sqrt(rr) > tol; k++) {
    p.hessVec(dir, hd);
    const curv = dot(dir, hd);
    if (!(curv > 0)) break; // flat direction (the objective's invariances): stop here
    const alpha = rr / curv;
    for (let i = 0; i < dim; i++) {
      d[i] += alpha * dir[i];
      r[i] -= alpha * hd[i];
    }
    const rrNew = dot(r, r);
    const beta = rrNew / rr;
    rr = rrNew;
    for (let i = 0; i < dim; i++) dir[i] = r[i] + beta * dir[i];
  }
  return dot(d, g) < 0 ? d : Float64Array.from(g, (v) => -v);
}

/**
 * Minimises a convex `problem` from `x0`. Near the optimum the change in f
 * drops below float64 rounding, so a step that leaves f unchanged to
 * rounding but shrinks the gradient is accepted too.
 */
export function minimizeNewtonCg(
  problem: SmoothProblem,
  x0: Float64Array,
  options: NewtonCgOptions = {},
): NewtonCgResult {
  const maxIter = options.maxIter ?? 200, gtol = options.gtol ?? 1e-12;
  const cgMaxIter = options.cgMaxIter ?? 1000;
  const dim = x0.length;
  let x = Float64Array.from(x0), g = new Float64Array(dim);
  let f = problem.value(x, g);
  let iter = 0;
  for (; iter < maxIter && maxAbs(g) > gtol; iter++) {
    const d = newtonDirection(problem, g, cgMaxIter);
    const slope = dot(g, d), gMax = maxAbs(g);
    const xNew = new Float64Array(dim), gNew = new Float64Array(dim);
    let step = 1, fNew = NaN, accepted = false;
    for (let tries = 0; tries < 60; tries++, step /= 2) {
      for (let i = 0; i < dim; i++) xNew[i] = x[i] + step * d[i];
      fNew = problem.value(xNew, gNew);
      const armijo = fNew <= f + 1e-4 * step * slope;
      const flat = Math.abs(fNew - f) <= 4e-16 * Math.max(1, Math.abs(f)) && maxAbs(gNew) < gMax;
      if (armijo || flat) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      problem.value(x, g); // back to the last point for the caller
      break; // no progress possible at float64 precision
    }
    const moved = step * maxAbs(d);
    [x, g, f] = [xNew, gNew, fNew];
    if (moved <= 1e-15 * Math.max(1, maxAbs(x))) break;
  }
  return { x, f, gradMax: maxAbs(g), iterations: iter };
}
