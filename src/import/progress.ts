import type { Logger } from '../observability/logger.js';

export interface ProgressSample {
  readonly rowsRead: number;
  readonly rowsWritten: number;
  readonly rejected: number;
  readonly expired: number;
  /** Bytes of the input files read (on disk). */
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

interface Timed {
  readonly at: number;
  readonly rows: number;
  readonly bytes: number;
}

/** Rates over a sliding window, so the figures follow the current speed rather than the average. */
export class RateWindow {
  private samples: Timed[] = [];

  constructor(private readonly windowMs: number) {}

  add(at: number, rows: number, bytes: number): void {
    this.samples.push({ at, rows, bytes });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= this.windowMs) this.samples.shift();
  }

  /** Rows and bytes per second over the window; 0 before two samples. */
  rates(): { rowsPerSecond: number; bytesPerSecond: number } {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at <= first.at) return { rowsPerSecond: 0, bytesPerSecond: 0 };
    const seconds = (last.at - first.at) / 1000;
    return { rowsPerSecond: (last.rows - first.rows) / seconds, bytesPerSecond: (last.bytes - first.bytes) / seconds };
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** One line of the progress bar, at most `width` characters. */
export function renderBar(
  sample: ProgressSample,
  rowsPerSecond: number,
  etaSeconds: number,
  width: number,
  formatAmount: (amount: number) => string = formatBytes,
): string {
  const fraction = sample.bytesTotal > 0 ? Math.min(1, sample.bytesDone / sample.bytesTotal) : 1;
  const barWidth = 24;
  const filled = Math.round(fraction * barWidth);
  const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
  const parts = [
    `[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%`,
    `${formatAmount(sample.bytesDone)} / ${formatAmount(sample.bytesTotal)}`,
    `${count.format(sample.rowsRead)} rows`,
    `${count.format(rowsPerSecond)} rows/s`,
    `${count.format(sample.rejected)} rejected`,
    `ETA ${formatDuration(etaSeconds)}`,
  ];
  const line = parts.join('  ');
  return line.length > width ? line.slice(0, Math.max(0, width - 1)) : line;
}

export interface ProgressOptions {
  /** Where the bar goes (stderr); when it is not a terminal, progress is logged instead. */
  readonly stream: NodeJS.WriteStream;
  readonly logger: Logger;
  readonly redrawMs?: number;
  readonly logEveryMs?: number;
  /**
   * When set, and stderr is not a terminal: a log line each time another this many rows have
   * been read, instead of every `logEveryMs` (so the lines follow the job, not the clock).
   */
  readonly logEveryRows?: number;
  /** The log line's message (default `ingest progress`). */
  readonly label?: string;
  /**
   * How the bar shows `bytesDone` and `bytesTotal` (default: as bytes); a job whose progress
   * is counted in other units (e.g. token ranges) passes its own.
   */
  readonly formatAmount?: (amount: number) => string;
}

/** How often the row count is looked at under `logEveryRows`: far more often than a job reads that many rows. */
const ROW_CHECK_MS = 10;

/**
 * Shows a job's progress: on a terminal, a bar redrawn a few times a second; otherwise a log
 * line every few seconds (or every so many rows).
 */
export class ProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly window = new RateWindow(5_000);
  private readonly tty: boolean;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.stream.isTTY === true;
  }

  start(sample: () => ProgressSample): void {
    const everyRows = this.tty ? undefined : this.options.logEveryRows;
    this.window.add(Date.now(), sample().rowsRead, sample().bytesDone);
    if (everyRows !== undefined) {
      let nextRows = everyRows;
      this.timer = setInterval(() => {
        const current = sample();
        if (current.rowsRead < nextRows) return;
        nextRows = (Math.floor(current.rowsRead / everyRows) + 1) * everyRows;
        this.report(current);
      }, ROW_CHECK_MS);
    } else {
      const interval = this.tty ? (this.options.redrawMs ?? 250) : (this.options.logEveryMs ?? 5_000);
      this.timer = setInterval(() => this.report(sample()), interval);
    }
    this.timer.unref();
  }

  private report(sample: ProgressSample): void {
    const now = Date.now();
    this.window.add(now, sample.rowsRead, sample.bytesDone);
    const { rowsPerSecond, bytesPerSecond } = this.window.rates();
    const etaSeconds = bytesPerSecond > 0 ? (sample.bytesTotal - sample.bytesDone) / bytesPerSecond : Number.NaN;
    if (this.tty) {
      const width = this.options.stream.columns ?? 100;
      const bar = renderBar(sample, rowsPerSecond, etaSeconds, width, this.options.formatAmount);
      this.options.stream.write(`\r\x1b[2K${bar}`);
      this.drawn = true;
      return;
    }
    this.options.logger.info(
      {
        rowsRead: sample.rowsRead,
        rowsWritten: sample.rowsWritten,
        rejected: sample.rejected,
        expired: sample.expired,
        bytesRead: sample.bytesDone,
        bytesTotal: sample.bytesTotal,
        percent: sample.bytesTotal > 0 ? Math.round((sample.bytesDone / sample.bytesTotal) * 1000) / 10 : 100,
        rowsPerSecond: Math.round(rowsPerSecond),
        etaSeconds: Number.isFinite(etaSeconds) ? Math.round(etaSeconds) : null,
        rssBytes: process.memoryUsage.rss(),
      },
      this.options.label ?? 'ingest progress',
    );
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) this.options.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
