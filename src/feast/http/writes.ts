import type { FeatureRow__Output, Value__Output } from '../../api/types.js';
import type { CallContext } from '../../concurrency/call.js';
import { CassetteError, invalidArgument, isCassetteError, quoteInput } from '../../errors/index.js';
import type { FeatureViewDef } from '../../registry/index.js';
import type { RegistrySync } from '../../registry/sync.js';
import { microsFromIso, timestampFromMicros } from '../../time/index.js';
import { feastJsonValue } from '../values.js';
import type { FeatureWriter } from '../../write/index.js';

/**
 * Feast's write endpoints on Cassette's write path. Both take a data frame as columns
 * (`{"driver_id": [1001, 1002], "conv_rate": [0.5, 0.7], "event_timestamp": [...]}`) and become
 * WriteFeatures requests: every row is validated like any other write (validateRow), written by
 * the same RowSink with the event time as the write time, and dropped from every cache first.
 */

/** POST /write-to-online-store, as the Feast SDK's remote online store sends it. */
export interface FeastWriteRequest {
  readonly feature_view_name: string;
  readonly df: Readonly<Record<string, readonly unknown[]>>;
}

/** POST /push. */
export interface FeastPushRequest {
  readonly push_source_name: string;
  readonly df: Readonly<Record<string, readonly unknown[]>>;
  readonly to?: string;
}

/** The column of event times; a row without one (null) is stamped now. */
export const EVENT_TIME_COLUMN = 'event_timestamp';

/** Feast's `created` column: Cassette orders writes by event time alone, so it is not used. */
const IGNORED_COLUMNS: ReadonlySet<string> = new Set(['created']);

type Column = readonly unknown[];

/**
 * The rows of a data frame for `view`, every cell converted by its column's type and named
 * `df["column"][row]` when it does not fit. Features left out of the frame are left as stored;
 * a null clears the stored value.
 */
export function rowsFromFrame(view: FeatureViewDef, df: Readonly<Record<string, Column>>): FeatureRow__Output[] {
  const columns = Object.entries(df);
  let rowCount = -1;
  let firstName = '';
  const keyColumns: [string, Column, FeatureViewDef['entities'][number]][] = [];
  const featureColumns: [string, Column, FeatureViewDef['features'][number]][] = [];
  let times: Column | undefined;
  for (const [name, column] of columns) {
    if (rowCount === -1) {
      rowCount = column.length;
      firstName = name;
    } else if (column.length !== rowCount) {
      throw invalidArgument(
        `df: column "${name}" has ${column.length} values but column "${firstName}" has ${rowCount}; every column needs the frame's length`,
        undefined,
        { field: 'df' },
      );
    }
    const entity = view.entities.find((e) => e.joinKey === name);
    const featureIndex = view.featureIndex.get(name);
    if (entity) keyColumns.push([name, column, entity]);
    else if (featureIndex !== undefined) featureColumns.push([name, column, view.features[featureIndex]!]);
    else if (name === EVENT_TIME_COLUMN) times = column;
    else if (!IGNORED_COLUMNS.has(name)) {
      throw invalidArgument(
        `df[${quoteInput(name)}]: feature view "${view.name}" has no join key or feature of that name (event times go in "${EVENT_TIME_COLUMN}")`,
        'CST_ERR_UNKNOWN_FEATURE',
        { field: `df[${quoteInput(name)}]` },
      );
    }
  }
  for (const entity of view.entities) {
    if (!keyColumns.some(([name]) => name === entity.joinKey)) {
      throw invalidArgument(`df: missing join key column "${entity.joinKey}"`, 'CST_ERR_MISSING_JOIN_KEY', {
        field: 'df',
      });
    }
  }
  if (featureColumns.length === 0) {
    throw invalidArgument(`df: give at least one feature of feature view "${view.name}"`, undefined, { field: 'df' });
  }

  const rows = new Array<FeatureRow__Output>(Math.max(rowCount, 0));
  for (let r = 0; r < rows.length; r++) {
    const entityKeys: Record<string, Value__Output> = {};
    for (const [name, column, entity] of keyColumns) {
      entityKeys[name] = feastJsonValue(entity.type, column[r], `df["${name}"][${r}]`);
    }
    const features: Record<string, Value__Output> = {};
    for (const [name, column, feature] of featureColumns) {
      features[name] = feastJsonValue(feature.type, column[r], `df["${name}"][${r}]`);
    }
    rows[r] = { entity_keys: entityKeys, features, event_timestamp: times ? eventTime(times[r], r) : null };
  }
  return rows;
}

function eventTime(value: unknown, row: number): FeatureRow__Output['event_timestamp'] {
  if (value === null || value === undefined) return null;
  const micros = typeof value === 'string' ? microsFromIso(value.trim()) : 'not-iso';
  if (typeof micros !== 'bigint') {
    throw invalidArgument(
      `df["${EVENT_TIME_COLUMN}"][${row}]: expected an ISO-8601 time (UTC unless it names an offset), got ${JSON.stringify(value)}`,
      undefined,
      { field: `df["${EVENT_TIME_COLUMN}"][${row}]` },
    );
  }
  return timestampFromMicros(micros);
}

/** Feast's write endpoints over the registry serving now and Cassette's FeatureWriter. */
export class FeastWriter {
  constructor(
    private readonly registry: Pick<RegistrySync, 'current'>,
    private readonly writer: Pick<FeatureWriter, 'writeFeatures'>,
    /** WriteFeatures' limit per request: a larger frame is written in parts of this many rows. */
    private readonly maxRowsPerRequest: number,
  ) {}

  /** POST /write-to-online-store: the rows written (rows already past ttl and grace are not). */
  async writeToOnlineStore(request: FeastWriteRequest, call: CallContext): Promise<number> {
    const view = this.registry.current.registry.featureViews.get(request.feature_view_name);
    if (!view) {
      throw invalidArgument(
        `feature_view_name: unknown feature view ${quoteInput(request.feature_view_name)}`,
        'CST_ERR_UNKNOWN_FEATURE_VIEW',
        { field: 'feature_view_name' },
      );
    }
    return this.write(view, request.df, call);
  }

  /**
   * POST /push. Cassette's registry has no push sources: the push goes to the feature view of
   * that name. (The Feast SDK's `push()` resolves push sources itself and calls
   * /write-to-online-store, so it needs no change.)
   */
  async push(request: FeastPushRequest, call: CallContext): Promise<number> {
    const to = request.to ?? 'online';
    if (to !== 'online') {
      throw invalidArgument(
        `to: ${quoteInput(to)} is not supported: Cassette is an online store and has no offline store to push to; push "online"`,
        undefined,
        { field: 'to' },
      );
    }
    const view = this.registry.current.registry.featureViews.get(request.push_source_name);
    if (!view) {
      throw invalidArgument(
        `push_source_name: no feature view is named ${quoteInput(request.push_source_name)} (Cassette has no push sources: push to a feature view by its name)`,
        'CST_ERR_UNKNOWN_PUSH_SOURCE',
        { field: 'push_source_name' },
      );
    }
    return this.write(view, request.df, call);
  }

  private async write(view: FeatureViewDef, df: FeastWriteRequest['df'], call: CallContext): Promise<number> {
    // Every cell is converted before anything is written: a bad frame changes nothing.
    const rows = rowsFromFrame(view, df);
    let written = 0;
    for (let start = 0; start < rows.length; start += this.maxRowsPerRequest) {
      const part = rows.slice(start, start + this.maxRowsPerRequest);
      try {
        const response = await this.writer.writeFeatures({ feature_view: view.name, rows: part }, call);
        written += Number(response.rows_written ?? 0);
      } catch (error) {
        if (start === 0 || !isCassetteError(error)) throw error;
        throw new CassetteError(
          error.code,
          `${error.message} (in the part of the frame from row ${start}; ${written} rows before it were written)`,
          { cause: error, metadata: error.metadata },
        );
      }
    }
    return written;
  }
}
