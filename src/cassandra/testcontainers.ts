import type { Logger } from 'pino';
import type * as Testcontainers from 'testcontainers';

export interface ContainerCassandra {
  contactPoints: string[];
  localDataCenter: string;
  stop(): Promise<void>;
}

/**
 * Starts `cassandra:5.0` in Docker via testcontainers, or resolves undefined
 * when no container runtime is reachable (or testcontainers, a dev
 * dependency, is not installed). Imported lazily so the rest of the module
 * works without either. Testcontainers' own reaper removes the container if
 * Node dies without calling stop().
 */
export async function startCassandraContainer(logger: Logger): Promise<ContainerCassandra | undefined> {
  let testcontainers: typeof Testcontainers;
  try {
    testcontainers = await import('testcontainers');
    await testcontainers.getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const { CassandraContainer } = await import('@testcontainers/cassandra');

  logger.info({ image: 'cassandra:5.0' }, 'starting cassandra container');
  const started = Date.now();
  const container = await new CassandraContainer('cassandra:5.0').start();
  const contactPoint = container.getContactPoint();
  logger.info({ contactPoint, ms: Date.now() - started }, 'cassandra container ready');

  let stopping: Promise<void> | undefined;
  return {
    contactPoints: [contactPoint],
    localDataCenter: container.getDatacenter(),
    stop: () =>
      (stopping ??= container.stop().then(() => {
        logger.info({ contactPoint }, 'cassandra container stopped');
      })),
  };
}
