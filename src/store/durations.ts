/**
 * Histograms of durations with fixed buckets, for the metrics of the request
 * path, the journal and snapshots: an observation is a short bucket search
 * and three additions, nothing allocated.
 *
 * @module
 */

/** Bucket bounds in seconds for disk work: journal writes and fsyncs, snapshots (`+Inf` is implied). */
export const DISK_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** A histogram of durations in seconds. */
export class Durations {
  /** Upper bounds of the buckets, seconds, increasing; the last bucket (`+Inf`) is implied. */
  readonly bounds: readonly number[];
  /** Per-bucket (not cumulative) counts; the last is `+Inf`. */
  readonly buckets: Float64Array;
  /** Sum of the observed durations, seconds. */
  sum = 0;
  /** Observations. */
  count = 0;

  /**
   * Makes an empty histogram.
   *
   * @param bounds upper bounds of the buckets in seconds, increasing
   * @example
   * ```ts
   * import { DISK_BUCKETS, Durations } from "./durations.ts";
   * const fsyncs = new Durations(DISK_BUCKETS);
   * fsyncs.observe(0.003);
   * console.log(fsyncs.count, fsyncs.sum); // 1 0.003
   * ```
   */
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.buckets = new Float64Array(bounds.length + 1);
  }

  /**
   * Counts one duration.
   *
   * @param seconds how long it took
   */
  observe(seconds: number): void {
    const bounds = this.bounds;
    let at = 0;
    while (at < bounds.length && seconds > bounds[at]) at++;
    this.buckets[at]++;
    this.sum += seconds;
    this.count++;
  }
}

/** How long the disk work of a store takes, for the metrics. */
export interface DiskTimings {
  /** Each write of journal records to the OS (one per commit of a batch). */
  readonly journalWrite: Durations;
  /** Each fsync of the journal. */
  readonly journalSync: Durations;
  /** Each snapshot saved: capturing the tables, then encoding and writing the file until it is renamed into place. */
  readonly snapshotSave: Durations;
  /** Seconds the last snapshot load took to decode the file and replace the tables; 0 before any. */
  lastLoad: number;
}

/**
 * Empty disk timings.
 *
 * @returns histograms with {@link DISK_BUCKETS}
 * @example
 * ```ts
 * import { diskTimings } from "./durations.ts";
 * console.log(diskTimings().journalSync.count); // 0
 * ```
 */
export function diskTimings(): DiskTimings {
  return {
    journalWrite: new Durations(DISK_BUCKETS),
    journalSync: new Durations(DISK_BUCKETS),
    snapshotSave: new Durations(DISK_BUCKETS),
    lastLoad: 0,
  };
}
