import type { Backend } from './backend.js';
import { rowsFromJson } from './write.js';

/** A small deterministic PRNG (mulberry32): the demo data is the same on every machine. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEMO_USERS = Array.from({ length: 100 }, (_, i) => 1001 + i);
export const DEMO_ITEMS = Array.from({ length: 50 }, (_, i) => `item_${String(i + 1).padStart(3, '0')}`);

const COUNTRIES = ['DE', 'FR', 'US', 'BR', 'JP', 'IN', 'GB', 'NG'];
const CATEGORIES = ['books', 'music', 'garden', 'games', 'kitchen', 'outdoor'];

/**
 * Rows for every view of schema/example.yaml. The last user's activity is 2 days and 30 minutes
 * old: past the view's 2-day ttl, so it is served as OUTSIDE_MAX_AGE.
 */
export function demoRows(now: number): Record<string, Record<string, unknown>[]> {
  const rand = random(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const iso = (millis: number) => new Date(millis).toISOString();
  const day = 86_400_000;
  return {
    user_profile: DEMO_USERS.map((user_id) => ({
      user_id,
      age: 18 + Math.floor(rand() * 60),
      country: pick(COUNTRIES),
      signup_time: Math.floor((now - rand() * 900 * day) / 1000),
      lifetime_value: Math.round(rand() * 500_000) / 100,
      is_premium: rand() < 0.2,
      preferred_categories: [pick(CATEGORIES), pick(CATEGORIES)],
      event_timestamp: iso(now - day),
    })),
    user_activity: DEMO_USERS.map((user_id, i) => ({
      user_id,
      clicks_7d: Math.floor(rand() * 400),
      sessions_24h: Math.floor(rand() * 12),
      avg_session_minutes: Math.round(rand() * 300) / 10,
      last_seen: Math.floor((now - rand() * day) / 1000),
      recent_item_ids: [pick(DEMO_ITEMS), pick(DEMO_ITEMS), pick(DEMO_ITEMS)],
      event_timestamp: iso(i === DEMO_USERS.length - 1 ? now - 2 * day - 30 * 60_000 : now - rand() * 3_600_000),
    })),
    item_features: DEMO_ITEMS.map((item_id) => ({
      item_id,
      category: pick(CATEGORIES),
      price: Math.round(rand() * 20_000) / 100,
      in_stock: rand() < 0.9,
      embedding: Array.from({ length: 32 }, () => Math.round((rand() * 2 - 1) * 1e4) / 1e4),
      event_timestamp: iso(now - 6 * 3_600_000),
    })),
    user_item_affinity: DEMO_USERS.slice(0, 20).flatMap((user_id) =>
      DEMO_ITEMS.slice(0, 10).map((item_id) => ({
        user_id,
        item_id,
        affinity: Math.round(rand() * 1000) / 1000,
        views_30d: Math.floor(rand() * 20),
        event_timestamp: iso(now - 2 * 3_600_000),
      })),
    ),
  };
}

/** Writes the demo rows through the public write API. Returns the rows written. */
export async function loadDemoRows(backend: Backend): Promise<number> {
  const { feature_views: views } = await backend.listFeatureViews();
  let written = 0;
  for (const [viewName, rows] of Object.entries(demoRows(Date.now()))) {
    const spec = views.find((v) => v.name === viewName);
    if (!spec) throw new Error(`the demo registry has no feature view "${viewName}"`);
    const result = await backend.writeFeatures({ feature_view: viewName, rows: rowsFromJson(spec, rows) });
    written += Number(result.rows_written);
  }
  return written;
}
