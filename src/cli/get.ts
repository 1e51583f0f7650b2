import Table from 'cli-table3';

import type { GetOnlineFeaturesRequest, GetOnlineFeaturesResponse__Output, Value } from '../api/index.js';
import { featureViewFromSpec, type EntityKeyType } from '../registry/index.js';
import { valueFromJson, valueToJson } from '../values/index.js';
import type { Backend } from './backend.js';

export interface GetOptions {
  service?: string;
  features?: string;
  entity: string[];
  fullNames?: boolean;
  json?: boolean;
}

/** `--entity user_id=1001,1002` -> ['user_id', ['1001', '1002']] */
function parseEntityFlag(flag: string): [string, string[]] {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw new Error(`--entity ${flag}: expected JOIN_KEY=VALUE[,VALUE...]`);
  return [flag.slice(0, eq), flag.slice(eq + 1).split(',')];
}

export async function buildGetRequest(backend: Backend, options: GetOptions): Promise<GetOnlineFeaturesRequest> {
  if (!options.service === !options.features) throw new Error('give exactly one of --service or --features');
  if (options.entity.length === 0) throw new Error('give at least one --entity JOIN_KEY=VALUE[,VALUE...]');
  const views = await backend.listFeatureViews();
  const keyTypes = new Map<string, EntityKeyType>();
  for (const view of views.feature_views.map(featureViewFromSpec)) {
    for (const entity of view.entities) keyTypes.set(entity.joinKey, entity.type);
  }
  const entities: Record<string, { val: Value[] }> = {};
  for (const flag of options.entity) {
    const [joinKey, texts] = parseEntityFlag(flag);
    const type = keyTypes.get(joinKey);
    if (!type)
      throw new Error(`--entity ${flag}: unknown join key "${joinKey}" (known: ${[...keyTypes.keys()].join(', ')})`);
    entities[joinKey] = { val: texts.map((text, i) => valueFromJson(type, text, `--entity ${joinKey}[${i}]`)) };
  }
  return {
    ...(options.service
      ? { feature_service: options.service }
      : { features: { val: (options.features ?? '').split(',').map((s) => s.trim()) } }),
    entities,
    full_feature_names: options.fullNames ?? false,
  };
}

function formatCell(value: unknown): string {
  if (Array.isArray(value)) {
    const shown = value.slice(0, 4).map((v) => (typeof v === 'number' ? Number(v.toPrecision(4)) : v));
    return value.length > 4 ? `[${shown.join(', ')}, … ${value.length} values]` : JSON.stringify(shown);
  }
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One object per entity row: join keys, then each feature's value, status and event time. */
export function responseRows(
  request: GetOnlineFeaturesRequest,
  response: GetOnlineFeaturesResponse__Output,
): Record<string, unknown>[] {
  const names = response.metadata?.feature_names?.val ?? [];
  const batch = response.results[0]?.values.length ?? 0;
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < batch; r++) {
    const row: Record<string, unknown> = {};
    for (const [joinKey, column] of Object.entries(request.entities ?? {})) {
      row[joinKey] = valueToJson(column.val![r]!);
    }
    names.forEach((name, f) => {
      const vector = response.results[f]!;
      row[name] = {
        value: valueToJson(vector.values[r]!),
        status: vector.statuses[r],
        event_timestamp: new Date(Number(vector.event_timestamps[r]?.seconds ?? 0) * 1000).toISOString(),
      };
    });
    rows.push(row);
  }
  return rows;
}

export function renderTable(request: GetOnlineFeaturesRequest, response: GetOnlineFeaturesResponse__Output): string {
  const rows = responseRows(request, response);
  const joinKeys = Object.keys(request.entities ?? {});
  const names = response.metadata?.feature_names?.val ?? [];
  const table = new Table({ head: [...joinKeys, ...names], style: { head: [], border: [] } });
  for (const row of rows) {
    table.push([
      ...joinKeys.map((k) => formatCell(row[k])),
      ...names.map((name) => {
        const cell = row[name] as { value: unknown; status: string };
        if (cell.status === 'PRESENT') return formatCell(cell.value);
        if (cell.status === 'OUTSIDE_MAX_AGE') return `${formatCell(cell.value)} (stale)`;
        return `(${cell.status})`;
      }),
    ]);
  }
  return table.toString();
}
