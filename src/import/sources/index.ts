import { openCsvSource } from './csv-source.js';
import { openJsonlSource } from './jsonl-source.js';
import { openParquetSource } from './parquet-source.js';
import type { FileKind, Position, RowContext, Source } from './source.js';

/** Opens `file` with the reader of its format, from `from` on. */
export async function openSource(
  file: FileKind & { readonly path: string },
  from: Position,
  ctx: RowContext,
): Promise<Source> {
  switch (file.format) {
    case 'csv':
      return openCsvSource(file.path, file, from, ctx);
    case 'jsonl':
      return openJsonlSource(file.path, file, from, ctx);
    case 'parquet':
      return openParquetSource(file.path, from, ctx);
  }
}
