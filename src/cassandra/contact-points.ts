import { isIP } from 'node:net';

/** Cassandra's default native-transport (CQL) port. */
export const DEFAULT_CQL_PORT = 9042;

// One DNS label: letters, digits and inner hyphens, at most 63 characters.
const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function isHostname(value: string): boolean {
  // All-numeric dotted names are malformed IPv4 addresses, not hostnames.
  if (/^[\d.]+$/.test(value)) return false;
  return value.length <= 253 && value.split('.').every((label) => HOSTNAME_LABEL.test(label));
}

function parsePort(text: string, entry: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new Error(`Invalid port in Cassandra contact point "${entry}": expected 1-65535`);
  }
  return port;
}

/**
 * Parses one `host[:port]` entry into the `host:port` form cassandra-driver
 * accepts (`[v6]:port` for IPv6, which the driver also understands).
 */
function parseOne(entry: string): string {
  let host: string;
  let port = DEFAULT_CQL_PORT;

  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], entry);
    if (isIP(host) !== 6) {
      throw new Error(`Invalid Cassandra contact point "${entry}": only IPv6 addresses go in [brackets]`);
    }
    return `[${host}]:${port}`;
  }

  const colons = entry.split(':').length - 1;
  if (colons > 1) {
    // Several colons and no brackets: a bare IPv6 address (which cannot carry a port).
    if (isIP(entry) !== 6) {
      throw new Error(`Invalid Cassandra contact point "${entry}": write IPv6 addresses with a port as [address]:port`);
    }
    return `[${entry}]:${port}`;
  }

  if (colons === 1) {
    const at = entry.indexOf(':');
    host = entry.slice(0, at);
    port = parsePort(entry.slice(at + 1), entry);
  } else {
    host = entry;
  }
  if (isIP(host) !== 4 && !isHostname(host)) {
    throw new Error(`Invalid host in Cassandra contact point "${entry}"`);
  }
  return `${host}:${port}`;
}

/**
 * Parses a comma-separated list of `host[:port]` contact points (the format of
 * `CASSANDRA_CONTACT_POINTS`). Whitespace around entries is ignored; the port
 * defaults to 9042. Throws an Error naming the offending entry on bad input.
 */
export function parseContactPoints(value: string): string[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) {
    throw new Error(
      'No Cassandra contact points given: expected a comma-separated list of host[:port], e.g. "10.0.0.5:9042,10.0.0.6"',
    );
  }
  const points = entries.map(parseOne);
  return [...new Set(points)];
}
