import type { ConfigInput } from '../../src/config/index.js';
import { variantSecurity } from './security.js';

/**
 * Server variants: a cache server that differs from the harness's `cache` server by one setting,
 * measured beside it in the same run (`--variant NAME`), so a feature's cost is a ratio within one
 * run rather than a difference between two runs of a noisy machine. Each variant runs the warm
 * scenarios of VARIANT_CELLS right after the same scenario on the `cache` server.
 */
export interface Variant {
  readonly description: string;
  /** Config sections merged over the benchmark's server config. */
  readonly overrides: ConfigInput;
}

export const VARIANTS: Readonly<Record<string, Variant>> = {
  control: {
    description:
      "the cache server's own settings, unchanged: an A/A check of the comparison (its ratios show what running later, on another process, does alone)",
    overrides: {},
  },
  'metrics-off': {
    description: 'the cache server without its Prometheus metrics (metrics.enabled: false)',
    overrides: { metrics: { enabled: false } },
  },
  'tls-auth': {
    description:
      'the cache server with TLS and bearer-token checks (a token allowed read:*), its clients with TLS and the token',
    // Read when the server starts: prepareBenchSecurity has made the files by then.
    get overrides(): ConfigInput {
      return variantSecurity('tls-auth');
    },
  },
  tls: {
    description: 'the cache server with TLS, its clients with TLS',
    get overrides(): ConfigInput {
      return variantSecurity('tls');
    },
  },
  auth: {
    description: 'the cache server checking bearer tokens (plain text), its clients sending one',
    get overrides(): ConfigInput {
      return variantSecurity('auth');
    },
  },
  'coherence-off': {
    description: 'the cache server without cross-replica cache coherence (cache.coherence.enabled: false)',
    overrides: { cache: { coherence: { enabled: false } } },
  },
};

/** The (entities, features) cells the variants are measured in. */
export const VARIANT_CELLS = [
  [1, 10],
  [100, 50],
] as const;

/** The scenario name of `base` on variant `variant`'s server. */
export function variantScenarioName(base: string, variant: string): string {
  return `${base} [${variant}]`;
}

/** The variant and base scenario of a variant scenario's name, or undefined for any other name. */
export function parseVariantScenarioName(name: string): { base: string; variant: string } | undefined {
  const match = /^(.*) \[([a-z0-9-]+)\]$/.exec(name);
  return match ? { base: match[1]!, variant: match[2]! } : undefined;
}
