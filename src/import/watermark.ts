/**
 * The low watermark of a job: the point in its input before which every record is done
 * (written, rejected or expired). Writes are concurrent and finish out of order, so records are
 * tracked by a sequence number (the tag handed to the sink) in a ring buffer; the watermark
 * moves when the oldest outstanding record completes. Counts and the reject file's length are
 * carried along, so a checkpoint taken at the watermark is consistent in every field.
 */

export const Outcome = {
  Pending: 0,
  Written: 1,
  Rejected: 2,
  Expired: 3,
  /** Not a record: the end of a file. */
  FileEnd: 4,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface Counts {
  read: number;
  written: number;
  rejected: number;
  expired: number;
}

export interface Watermark {
  /** Index of the file the job is in; files before it are finished. */
  readonly file: number;
  /** Position in that file (see Position). */
  readonly offset: number;
  readonly line: number;
  /** Length of the reject file holding exactly the rejects of the records before the watermark. */
  readonly rejectBytes: number;
  readonly counts: Readonly<Counts>;
}

export class WatermarkTracker {
  private capacity = 1024;
  private file = new Int32Array(this.capacity);
  private offset = new Float64Array(this.capacity);
  private line = new Float64Array(this.capacity);
  private rejectBytes = new Float64Array(this.capacity);
  private outcome = new Uint8Array(this.capacity);
  private done = new Uint8Array(this.capacity);
  /** Sequence number of the oldest entry not yet passed. */
  private head = 0;
  /** Sequence number the next entry gets. */
  private tail = 0;
  private current: Watermark;
  private waiters: { below: number; resolve: () => void }[] = [];

  constructor(start: Watermark) {
    this.current = { ...start, counts: { ...start.counts } };
  }

  get watermark(): Watermark {
    return this.current;
  }

  /** Records read but not yet passed by the watermark. */
  get outstanding(): number {
    return this.tail - this.head;
  }

  /**
   * Adds the next record (or a file end) in read order, with the position after it and the
   * reject file's length after its reject, if any. Returns its tag. An outcome other than
   * Pending is done at once.
   */
  add(file: number, offset: number, line: number, rejectBytes: number, outcome: Outcome): number {
    if (this.tail - this.head === this.capacity) this.grow();
    const seq = this.tail++;
    const at = seq % this.capacity;
    this.file[at] = file;
    this.offset[at] = offset;
    this.line[at] = line;
    this.rejectBytes[at] = rejectBytes;
    this.outcome[at] = outcome;
    this.done[at] = outcome === Outcome.Pending ? 0 : 1;
    if (seq === this.head) this.advance();
    return seq;
  }

  /** A pending record was written. */
  complete(tag: number): void {
    if (tag < this.head || tag >= this.tail) throw new Error(`unknown or already completed tag ${tag}`);
    const at = tag % this.capacity;
    if (this.done[at] === 1) throw new Error(`tag ${tag} completed twice`);
    this.done[at] = 1;
    this.outcome[at] = Outcome.Written;
    if (tag === this.head) this.advance();
  }

  /** Resolves once at most `count` records are outstanding (bounds memory and rework). */
  async outstandingAtMost(count: number): Promise<void> {
    if (this.outstanding <= count) return;
    await new Promise<void>((resolve) => this.waiters.push({ below: count, resolve }));
  }

  private advance(): void {
    const capacity = this.capacity;
    let moved = false;
    const counts = { ...this.current.counts };
    let last = -1;
    while (this.head < this.tail && this.done[this.head % capacity] === 1) {
      const at = this.head % capacity;
      switch (this.outcome[at]) {
        case Outcome.Written:
          counts.read++;
          counts.written++;
          break;
        case Outcome.Rejected:
          counts.read++;
          counts.rejected++;
          break;
        case Outcome.Expired:
          counts.read++;
          counts.expired++;
          break;
      }
      last = at;
      moved = true;
      this.head++;
    }
    if (!moved) return;
    this.current = {
      file: this.file[last]!,
      offset: this.offset[last]!,
      line: this.line[last]!,
      rejectBytes: this.rejectBytes[last]!,
      counts,
    };
    if (this.waiters.length > 0) {
      const outstanding = this.outstanding;
      this.waiters = this.waiters.filter((w) => {
        if (outstanding > w.below) return true;
        w.resolve();
        return false;
      });
    }
  }

  private grow(): void {
    const old = this.capacity;
    const capacity = old * 2;
    const copy = <T extends Int32Array | Float64Array | Uint8Array>(from: T, to: T): T => {
      for (let seq = this.head; seq < this.tail; seq++) to[seq % capacity] = from[seq % old]!;
      return to;
    };
    this.file = copy(this.file, new Int32Array(capacity));
    this.offset = copy(this.offset, new Float64Array(capacity));
    this.line = copy(this.line, new Float64Array(capacity));
    this.rejectBytes = copy(this.rejectBytes, new Float64Array(capacity));
    this.outcome = copy(this.outcome, new Uint8Array(capacity));
    this.done = copy(this.done, new Uint8Array(capacity));
    this.capacity = capacity;
  }
}
