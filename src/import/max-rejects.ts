import { CassetteError } from '../errors/index.js';

/**
 * `--max-rejects N` fails the job as soon as more than N records were rejected.
 * `--max-rejects P%` fails it when more than P percent of the records read so far were rejected,
 * checked after every reject once PERCENT_MIN_RECORDS records have been read (earlier, one
 * bad record among the first few would already be a large share), and once more on the totals
 * when the input is finished, so small inputs are held to the limit too.
 */
export type RejectLimit =
  { readonly kind: 'count'; readonly max: number } | { readonly kind: 'percent'; readonly max: number };

export const PERCENT_MIN_RECORDS = 1000;

export function parseMaxRejects(text: string): RejectLimit {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(trimmed);
  if (percent) {
    const max = Number(percent[1]);
    if (max > 100)
      throw new CassetteError('CST_ERR_USAGE', `--max-rejects ${text}: a percentage must be between 0% and 100%`);
    return { kind: 'percent', max };
  }
  if (/^\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return { kind: 'count', max: Number(trimmed) };
  throw new CassetteError(
    'CST_ERR_USAGE',
    `--max-rejects ${text}: expected a number of records (e.g. 100) or a percentage (e.g. 0.5%)`,
  );
}

/**
 * Why the job must stop, or null. `final`: the input is finished (the percentage is then
 * checked however few records there were).
 */
export function rejectLimitExceeded(
  limit: RejectLimit | undefined,
  rejected: number,
  read: number,
  final: boolean,
): string | null {
  if (!limit) return null;
  if (limit.kind === 'count') {
    return rejected > limit.max ? `${rejected} records were rejected, more than --max-rejects ${limit.max}` : null;
  }
  if (read === 0 || (!final && read < PERCENT_MIN_RECORDS)) return null;
  const share = (rejected / read) * 100;
  if (share <= limit.max) return null;
  return (
    `${rejected} of ${read} records (${share.toFixed(2)}%) were rejected, more than --max-rejects ${limit.max}%` +
    (final ? '' : ' (checked from the first 1000 records on)')
  );
}
