import type { Logger } from 'pino';
import { findJava, type JavaInfo } from './jvm.js';
import { CASSANDRA_VERSION, completeLibDir, ensureCassandraJars, hasMaven, resolveCassandraHome } from './maven.js';

/** What it takes to run Cassandra in a local JVM. */
export interface LocalJvm {
  java: JavaInfo;
  /** Directory holding cassandra-all and its dependencies. */
  lib: string;
}

/**
 * Java 17+ and Cassandra's jars (fetched with Maven the first time), or the
 * reason the local-JVM path is unavailable here.
 */
export async function prepareLocalJvm(options: {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  cassandraHome?: string;
}): Promise<LocalJvm | { missing: string }> {
  const { env, logger } = options;
  const java = await findJava(env);
  if (!java) return { missing: 'no Java 17+ found (JAVA_HOME or PATH)' };
  const home = resolveCassandraHome(options.cassandraHome, env);
  if (!(await completeLibDir(home)) && !(await hasMaven(env))) {
    return { missing: `Maven (mvn) not found on PATH, needed once to fetch the Cassandra jars into ${home}` };
  }
  if (java.major > 17) {
    logger.warn({ java: java.major }, `Cassandra ${CASSANDRA_VERSION} is only supported on Java 11 and 17`);
  }
  return { java, lib: await ensureCassandraJars(home, env, logger) };
}
