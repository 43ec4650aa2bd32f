/**
 * Latency histograms: HDR (hdr-histogram-js), recorded in microseconds, 3 significant digits, so
 * p99.9 of a run is as exact as its p50. Every latency is measured with one clock: the generator's
 * `performance.now()` (monotonic), with senders and receivers in the same process.
 */
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export class Latency {
  private readonly h = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });

  /** Records a latency given in milliseconds. */
  record(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Percentile in ms. */
  at(p: number): number {
    return this.h.totalCount === 0 ? NaN : this.h.getValueAtPercentile(p) / 1000;
  }

  reset(): void {
    this.h.reset();
  }

  summary(): LatencySummary {
    const r = (v: number) => +v.toFixed(2);
    return {
      count: this.h.totalCount,
      p50: r(this.at(50)),
      p90: r(this.at(90)),
      p99: r(this.at(99)),
      p999: r(this.at(99.9)),
      max: r(this.h.totalCount === 0 ? NaN : this.h.maxValue / 1000),
      mean: r(this.h.totalCount === 0 ? NaN : this.h.mean / 1000),
    };
  }
}
