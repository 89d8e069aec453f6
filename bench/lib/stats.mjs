/**
 * Latency histograms that can be merged across load-generator processes
 * without shipping every sample: log-spaced buckets 2% wide, in microseconds.
 */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

export class Histogram {
  constructor(counts = {}) {
    /** bucket index → count; bucket i holds values in [GROWTH^i, GROWTH^(i+1)) µs. */
    this.counts = new Map(Object.entries(counts).map(([k, v]) => [Number(k), v]));
    this.total = 0;
    for (const v of this.counts.values()) this.total += v;
  }

  /** Records one value in microseconds. */
  record(us) {
    const index = us < 1 ? 0 : Math.floor(Math.log(us) / LOG_GROWTH);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.total++;
  }

  merge(other) {
    for (const [k, v] of other.counts) this.counts.set(k, (this.counts.get(k) ?? 0) + v);
    this.total += other.total;
    return this;
  }

  /** The q-quantile (0..1) in milliseconds, or null when empty; the bucket's geometric middle (±1%). */
  quantileMs(q) {
    if (this.total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const k of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(k);
      if (seen >= rank) return Math.pow(GROWTH, k + 0.5) / 1000;
    }
    return null;
  }

  toJSON() {
    return Object.fromEntries(this.counts);
  }
}

export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function max(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x));
  return v.length === 0 ? null : Math.max(...v);
}
