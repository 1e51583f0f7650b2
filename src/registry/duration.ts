const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DURATION = /^(\d+)(s|m|h|d|w)$/;

/**
 * Parses a duration such as `90s`, `30m`, `12h`, `7d` or `2w` into whole seconds.
 * Returns undefined for anything else so callers can report the problem in context.
 */
export function parseDurationSeconds(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

export function formatDurationSeconds(seconds: number): string {
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const size = UNIT_SECONDS[unit] as number;
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
