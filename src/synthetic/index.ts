import type { FeatureViewDef } from '../registry/index.js';
import { Random } from './random.js';
import { eventWindowMicros, syntheticRow, type RowShape, type SyntheticRow } from './rows.js';
import { csvWriter, jsonlWriter, parquetRowWriter, type RowFileWriter } from './writers.js';

export { Random } from './random.js';
export { syntheticRow, eventWindowMicros, type SyntheticRow, type SyntheticValue, type BadKind } from './rows.js';
export { csvCell, parquetSchemaFor } from './writers.js';

export type SyntheticFormat = 'csv' | 'jsonl' | 'parquet';

export interface GenerateOptions {
  readonly view: FeatureViewDef;
  readonly rows: number;
  readonly format: SyntheticFormat;
  /** Output path; a .gz suffix compresses CSV and JSON Lines. */
  readonly out: string;
  readonly seed: number;
  /** Share of rows made invalid (wrong type, missing key, bad event time, unparsable). */
  readonly badFraction: number;
  /** Share of features left out of a row. */
  readonly sparseFraction: number;
  /** Event times end at this instant (ms); with the seed it makes the file reproducible byte for byte. */
  readonly anchorMillis: number;
  /** Distinct entities (keys repeat); 0 = one per row. */
  readonly entities: number;
  /** Rows per Parquet row group (and per write batch for the text formats). */
  readonly rowGroupSize: number;
  readonly eventTimeColumn: string;
}

export interface GenerateResult {
  readonly rows: number;
  readonly badRows: number;
}

/**
 * Writes `rows` synthetic rows for a view, streamed: at most one row group is in memory, so
 * millions of rows take as little memory as a thousand. Every value is drawn from a generator
 * seeded by `seed`, so the same options give the same file.
 */
export async function generateFile(options: GenerateOptions): Promise<GenerateResult> {
  const shape: RowShape = {
    view: options.view,
    entities: options.entities,
    anchorMicros: BigInt(Math.trunc(options.anchorMillis)) * 1000n,
    windowMicros: eventWindowMicros(options.view),
    badFraction: options.badFraction,
    sparseFraction: options.sparseFraction,
  };
  const writer: RowFileWriter =
    options.format === 'csv'
      ? csvWriter(options.out, options.view, options.eventTimeColumn)
      : options.format === 'jsonl'
        ? jsonlWriter(options.out, options.view, options.eventTimeColumn)
        : parquetRowWriter(options.out, options.view, options.eventTimeColumn);
  const random = new Random(options.seed);
  let badRows = 0;
  for (let start = 0; start < options.rows; start += options.rowGroupSize) {
    const count = Math.min(options.rowGroupSize, options.rows - start);
    const batch: SyntheticRow[] = new Array<SyntheticRow>(count);
    for (let i = 0; i < count; i++) {
      const row = syntheticRow(shape, start + i, random);
      if (row.bad) badRows++;
      batch[i] = row;
    }
    await writer.write(batch);
  }
  await writer.close();
  return { rows: options.rows, badRows };
}
