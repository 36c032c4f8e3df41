/**
 * Barnes-Hut repulsion for 2-D t-SNE: a quadtree over the embedding, and for
 * every point the sums
 *
 *   Z_i = sum_{j != i} q_ij,    F_i = sum_{j != i} q_ij^2 (y_i - y_j),    q_ij = 1 / (1 + |y_i - y_j|^2)
 *
 * where a cell whose width / distance to its centre of mass is below theta
 * stands in for all its points (theta = 0 gives the exact O(N^2) sums).
 * Points that coincide (or nearly: beyond MAX_DEPTH) share a leaf bucket
 * and are summed exactly.
 */

const MAX_DEPTH = 48;

/** Quadtree nodes in flat, growable arrays. */
class QuadTree {
  cx: Float64Array; // cell centre
  cy: Float64Array;
  half: Float64Array; // half the cell width
  sumX: Float64Array; // sum of the positions of the points below (-> centre of mass)
  sumY: Float64Array;
  count: Int32Array;
  child: Int32Array; // first of 4 consecutive children, -1 for a leaf
  first: Int32Array; // first point of a leaf's bucket, -1 when empty
  depth: Int32Array;
  size = 0;
  /** Next point in the same leaf bucket, -1 at the end. */
  next: Int32Array;

  constructor(readonly points: Float64Array, n: number) {
    const cap = Math.max(16, 4 * n);
    this.cx = new Float64Array(cap);
    this.cy = new Float64Array(cap);
    this.half = new Float64Array(cap);
    this.sumX = new Float64Array(cap);
    this.sumY = new Float64Array(cap);
    this.count = new Int32Array(cap);
    this.child = new Int32Array(cap);
    this.first = new Int32Array(cap);
    this.depth = new Int32Array(cap);
    this.next = new Int32Array(n).fill(-1);
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, points[2 * i]);
      maxX = Math.max(maxX, points[2 * i]);
      minY = Math.min(minY, points[2 * i + 1]);
      maxY = Math.max(maxY, points[2 * i + 1]);
    }
    const half = Math.max(maxX - minX, maxY - minY) / 2 * (1 + 1e-9) + 1e-12;
    this.#node((minX + maxX) / 2, (minY + maxY) / 2, half, 0);
    for (let i = 0; i < n; i++) this.#insert(i);
  }

  #node(cx: number, cy: number, half: number, depth: number): number {
    if (this.size === this.cx.length) this.#grow();
    const k = this.size++;
    this.cx[k] = cx;
    this.cy[k] = cy;
    this.half[k] = half;
    this.sumX[k] = 0;
    this.sumY[k] = 0;
    this.count[k] = 0;
    this.child[k] = -1;
    this.first[k] = -1;
    this.depth[k] = depth;
    return k;
  }

  #grow(): void {
    const grow = <T extends Float64Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(a.length * 2);
      b.set(a);
      return b;
    };
    this.cx = grow(this.cx);
    this.cy = grow(this.cy);
    this.half = grow(this.half);
    this.sumX = grow(this.sumX);
    this.sumY = grow(this.sumY);
    this.count = grow(this.count);
    this.child = grow(this.child);
    this.first = grow(this.first);
    this.depth = grow(this.depth);
  }

  #quadrant(node: number, x: number, y: number): number {
    return this.child[node] + (x >= this.cx[node] ? 1 : 0) + (y >= this.cy[node] ? 2 : 0);
  }

  #insert(p: number): void {
    const x = this.points[2 * p], y = this.points[2 * p + 1];
    let node = 0;
    for (;;) {
      this.count[node]++;
      this.sumX[node] += x;
      this.sumY[node] += y;
      if (this.child[node] >= 0) {
        node = this.#quadrant(node, x, y);
        continue;
      }
      if (this.first[node] < 0 || this.depth[node] >= MAX_DEPTH) { // empty leaf or bucket
        this.next[p] = this.first[node];
        this.first[node] = p;
        return;
      }
      // An occupied leaf splits: its point moves one level down, then p continues.
      const q = this.first[node];
      this.first[node] = -1;
      const h = this.half[node] / 2, d = this.depth[node] + 1;
      const c0 = this.#node(this.cx[node] - h, this.cy[node] - h, h, d);
      this.#node(this.cx[node] + h, this.cy[node] - h, h, d);
      this.#node(this.cx[node] - h, this.cy[node] + h, h, d);
      this.#node(this.cx[node] + h, this.cy[node] + h, h, d);
      this.child[node] = c0;
      const qx = this.points[2 * q], qy = this.points[2 * q + 1];
      const qc = this.#quadrant(node, qx, qy);
      this.count[qc] = 1;
      this.sumX[qc] = qx;
      this.sumY[qc] = qy;
      this.first[qc] = q;
      this.next[q] = -1;
      node = this.#quadrant(node, x, y);
    }
  }
}

/**
 * Writes the repulsive sums F_i into `fx`, `fy` and returns Z = sum_i Z_i.
 * `y` is [N, 2] interleaved. theta must be below 0.7 so a cell holding y_i
 * itself is never summarized.
 */
export function repulsion(
  y: Float64Array,
  n: number,
  theta: number,
  fx: Float64Array,
  fy: Float64Array,
): number {
  if (!(theta >= 0 && theta < 0.7)) throw new RangeError(`theta ${theta} must be in [0, 0.7)`);
  const tree = new QuadTree(y, n);
  const theta2 = theta * theta;
  const stack = new Int32Array(4 * MAX_DEPTH + 8);
  let zTotal = 0;
  for (let i = 0; i < n; i++) {
    const xi = y[2 * i], yi = y[2 * i + 1];
    let z = 0, sx = 0, sy = 0;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const node = stack[--top];
      const cnt = tree.count[node];
      if (cnt === 0) continue;
      if (tree.child[node] < 0) {
        for (let j = tree.first[node]; j >= 0; j = tree.next[j]) {
          if (j === i) continue;
          const dx = xi - y[2 * j], dy = yi - y[2 * j + 1];
          const q = 1 / (1 + dx * dx + dy * dy);
          z += q;
          sx += q * q * dx;
          sy += q * q * dy;
        }
        continue;
      }
      const dx = xi - tree.sumX[node] / cnt, dy = yi - tree.sumY[node] / cnt;
      const d2 = dx * dx + dy * dy;
      const width = 2 * tree.half[node];
      if (width * width < theta2 * d2) {
        const q = 1 / (1 + d2);
        z += cnt * q;
        sx += cnt * q * q * dx;
        sy += cnt * q * q * dy;
        continue;
      }
      const c = tree.child[node];
      stack[top++] = c;
      stack[top++] = c + 1;
      stack[top++] = c + 2;
      stack[top++] = c + 3;
    }
    fx[i] = sx;
    fy[i] = sy;
    zTotal += z;
  }
  return zTotal;
}
