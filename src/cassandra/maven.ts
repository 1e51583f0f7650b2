import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { run, tail } from './exec.js';

/** The Cassandra release the local-JVM path runs. */
export const CASSANDRA_VERSION = '5.0.9';

// Written into lib/ only after Maven copied every jar, so a half-finished
// fetch (killed, network error) is never mistaken for a usable install.
const MARKER = '.cassette-complete.json';

interface Marker {
  version: string;
  jars: string[];
}

/**
 * Where the Cassandra jars live: explicit option, else `CASSETTE_CASSANDRA_HOME`,
 * else `${XDG_CACHE_HOME:-~/.cache}/cassette/cassandra-<version>`. Jars go in `lib/` below it.
 */
export function resolveCassandraHome(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return explicit;
  if (env.CASSETTE_CASSANDRA_HOME) return env.CASSETTE_CASSANDRA_HOME;
  const cacheRoot = env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache');
  return join(cacheRoot, 'cassette', `cassandra-${CASSANDRA_VERSION}`);
}

/** The lib dir if a previous fetch completed and all its jars are still there. */
export async function completeLibDir(home: string): Promise<string | undefined> {
  const lib = join(home, 'lib');
  try {
    const marker = JSON.parse(await readFile(join(lib, MARKER), 'utf8')) as Partial<Marker>;
    const jars = marker.jars ?? [];
    const ok =
      marker.version === CASSANDRA_VERSION && jars.length > 0 && jars.every((jar) => existsSync(join(lib, jar)));
    return ok ? lib : undefined;
  } catch {
    return undefined;
  }
}

/** True when `mvn` runs. */
export async function hasMaven(env: NodeJS.ProcessEnv): Promise<boolean> {
  const result = await run('mvn', ['-v'], { env, timeoutMs: 30_000 });
  return result.code === 0;
}

function throwawayPom(): string {
  // A dependency-only project: Maven resolves cassandra-all's runtime closure
  // and copy-dependencies drops every jar into one directory.
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cassette</groupId>
  <artifactId>cassandra-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>${CASSANDRA_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/**
 * Makes sure `<home>/lib` holds cassandra-all and its runtime dependencies,
 * fetching them with Maven when missing. Safe against concurrent callers:
 * each fetch happens in its own temporary directory that is renamed into
 * place once complete.
 */
export async function ensureCassandraJars(home: string, env: NodeJS.ProcessEnv, logger: Logger): Promise<string> {
  const existing = await completeLibDir(home);
  if (existing) {
    logger.debug({ lib: existing }, 'cassandra jars already cached');
    return existing;
  }

  await mkdir(home, { recursive: true });
  const work = await mkdtemp(join(home, '.fetch-'));
  try {
    const pom = join(work, 'pom.xml');
    const out = join(work, 'lib');
    await writeFile(pom, throwawayPom());

    const lib = join(home, 'lib');
    logger.info({ lib, version: CASSANDRA_VERSION }, 'fetching cassandra jars with maven');
    const started = Date.now();
    const result = await run(
      'mvn',
      ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${out}`],
      { env, cwd: work, timeoutMs: 30 * 60_000 },
    );
    if (result.code !== 0) {
      const why = result.spawnError ? result.spawnError.message : `exit code ${String(result.code)}`;
      throw new Error(
        `Fetching org.apache.cassandra:cassandra-all:${CASSANDRA_VERSION} with Maven failed (${why}):\n${tail(result.output, 40)}`,
      );
    }

    const jars = (await readdir(out)).filter((name) => name.endsWith('.jar')).sort();
    if (!jars.some((jar) => jar.startsWith('cassandra-all-'))) {
      throw new Error(`Maven finished but cassandra-all-${CASSANDRA_VERSION}.jar is missing from ${out}`);
    }
    const marker: Marker = { version: CASSANDRA_VERSION, jars };
    await writeFile(join(out, MARKER), `${JSON.stringify(marker, null, 2)}\n`);

    // Someone else may have completed a fetch meanwhile; theirs is as good as ours.
    const raced = await completeLibDir(home);
    if (raced) return raced;
    await rm(lib, { recursive: true, force: true }); // an incomplete leftover, if any
    try {
      await rename(out, lib);
    } catch (err) {
      const winner = await completeLibDir(home);
      if (winner) return winner;
      throw err;
    }
    logger.info({ lib, jars: jars.length, ms: Date.now() - started }, 'cassandra jars fetched');
    return lib;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
