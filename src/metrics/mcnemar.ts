/**
 * McNemar's test of two classifiers on the same images, exact form: of the
 * `b + c` discordant images (`b`: A right and B wrong, `c`: the reverse),
 * under the null hypothesis each is equally likely to favour either model,
 * so `b ~ Binomial(b + c, 1/2)`. The p-value is the exact two-sided binomial
 * test, the same number as `scipy.stats.binomtest(b, b + c).pvalue`.
 */

/** McNemar's test on the discordant counts. */
export interface McNemarTest {
  /** Images A gets right and B wrong. */
  b: number;
  /** Images B gets right and A wrong. */
  c: number;
  /** Exact two-sided binomial p-value of b out of b + c (1 when b + c = 0). */
  p_value: number;
}

/**
 * Two-sided exact binomial test of `k` successes in `n` trials at p = 1/2.
 * scipy sums the probabilities of every outcome no more likely than `k`;
 * at p = 1/2 the pmf is symmetric, so that is `2 * P(X <= min(k, n - k))`,
 * capped at 1 (1 exactly when k = n / 2).
 */
export function binomialTestHalf(k: number, n: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) {
    throw new RangeError(`binomial test needs integers 0 <= k <= n, got k=${k}, n=${n}`);
  }
  if (n === 0 || 2 * k === n) return 1;
  const m = Math.min(k, n - k);
  // log pmf(m) = log C(n, m) - n log 2, with log C(n, m) summed term by term
  // (exact to a few ulps per term; no lgamma in JavaScript).
  let logPmf = -n * Math.LN2;
  for (let i = 1; i <= m; i++) logPmf += Math.log((n - m + i) / i);
  // P(X <= m) = pmf(m) * sum_{j <= m} pmf(j) / pmf(m); the ratios shrink
  // fast below the mode, so the sum stops once a term no longer counts.
  let sum = 1, term = 1;
  for (let j = m; j > 0; j--) {
    term *= j / (n - j + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.min(1, 2 * Math.exp(logPmf) * sum);
}

/** McNemar's exact test from per-image correctness of two models (same images, same order). */
export function mcnemar(aCorrect: ArrayLike<boolean>, bCorrect: ArrayLike<boolean>): McNemarTest {
  if (aCorrect.length !== bCorrect.length) {
    throw new RangeError(
      `McNemar needs paired results, got ${aCorrect.length} and ${bCorrect.length}`,
    );
  }
  let b = 0, c = 0;
  for (let i = 0; i < aCorrect.length; i++) {
    if (aCorrect[i] && !bCorrect[i]) b++;
    else if (!aCorrect[i] && bCorrect[i]) c++;
  }
  return { b, c, p_value: binomialTestHalf(b, b + c) };
}
