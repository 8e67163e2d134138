import type { Metric, Registry } from "prom-client";

/**
 * One label set of a LabelledHistogram: an observation is a bucket search
 * over a dozen bounds and three additions (prom-client's own histogram
 * validates and hashes the labels on every observation, which on a
 * request path served in tens of microseconds is a cost worth avoiding).
 */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is past the highest bound. */
  private readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }

  /** Cumulative count of each bound (`le`), as Prometheus exposes them. */
  cumulative(): number[] {
    const out: number[] = [];
    let running = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      running += this.counts[i] as number;
      out.push(running);
    }
    return out;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A Prometheus histogram whose label sets are made once by their owner
 * (`series(labels)`) and observed through the series directly. It is a
 * prom-client metric (registered in, and exposed by, a prom-client Registry,
 * in its text format: `_bucket{le}`, `_sum`, `_count`).
 */
export class LabelledHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly all: HistogramSeries[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registries: readonly Registry[],
  ) {
    for (const r of registries) r.registerMetric(this as unknown as Metric);
  }

  /** A new series for `labels` (the caller keeps it; one per label set). */
  series(labels: Readonly<Record<string, string>>): HistogramSeries {
    const s = new HistogramSeries(labels, this.bounds);
    this.all.push(s);
    return s;
  }

  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.all) {
      const cumulative = s.cumulative();
      this.bounds.forEach((le, i) => {
        values.push({ labels: { le, ...s.labels }, value: cumulative[i] as number, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.all) s.reset();
  }
}
