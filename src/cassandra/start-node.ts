import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeNodeConfig, type NodeLayout } from './config.js';
import { tail } from './exec.js';
import { jvmArgs, spawnNode, type NodeProcess } from './jvm.js';
import type { LocalJvm } from './local-jvm.js';
import { waitForCql } from './probe.js';

/** How to launch one node; the same for every node of a cluster. */
export interface NodeLauncher extends LocalJvm {
  heap: string;
  /** From spawning the JVM to a successful CQL query. */
  startTimeoutMs: number;
  /** Leave the JVM running when this process exits (the CLI's clusters); else it dies with this process. */
  detached: boolean;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

// How long a node gets to drain after SIGTERM before it is SIGKILLed.
export const STOP_GRACE_MS = 30_000;
// Lets a joining node's shadow gossip round reach the seed; a single node barely uses it.
const RING_DELAY_MS = 1_000;

/** Fails with a clear message if `address:port` cannot be bound right now. */
function assertBindable(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'it is already in use (another Cassandra with a different data dir?)'
          : err.code === 'EADDRNOTAVAIL'
            ? 'the address is not configured on this machine (on macOS: sudo ifconfig lo0 alias ' + address + ')'
            : err.message;
      reject(new Error(`Cannot start a local Cassandra node on ${address}:${port}: ${why}`));
    });
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

async function readTail(path: string, maxBytes = 8 * 1024): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, size - length);
      const text = buffer.toString('utf8');
      // Drop the first, probably partial, line unless we have the whole file.
      return length < size ? text.slice(text.indexOf('\n') + 1) : text;
    } finally {
      await file.close();
    }
  } catch {
    return '';
  }
}

async function logTails(node: NodeLayout, outputPath: string): Promise<string> {
  const parts: string[] = [];
  for (const path of [outputPath, join(node.logDir, 'system.log')]) {
    const text = tail(await readTail(path), 25);
    if (text) parts.push(`--- tail of ${path} ---\n${text}`);
  }
  return parts.length ? `\n${parts.join('\n')}` : ` (no log output; see ${node.logDir})`;
}

/**
 * Writes the node's config, spawns its JVM and resolves once it answers CQL;
 * on failure stops it and rejects with the tail of its logs.
 */
export async function startNode(launcher: NodeLauncher, node: NodeLayout): Promise<NodeProcess> {
  const { java, lib, heap, env, logger, startTimeoutMs, detached } = launcher;
  await assertBindable(node.address, node.storagePort);
  await assertBindable(node.address, node.nativePort);
  await writeNodeConfig(node);

  const args = jvmArgs({ lib, node, heap, ringDelayMs: RING_DELAY_MS });
  const started = Date.now();
  const proc = await spawnNode({ java: java.command, args, node, env, stopGraceMs: STOP_GRACE_MS, detached });
  const fields = { node: node.index, address: node.address, port: node.nativePort, jvmPid: proc.pid };
  logger.info({ ...fields, dir: node.dir, storagePort: node.storagePort, heap }, 'starting cassandra node');

  try {
    const info = await waitForCql({
      host: node.address,
      port: node.nativePort,
      timeoutMs: startTimeoutMs,
      security: node.security,
      abort: () => {
        if (proc.hasExited()) throw new Error('the Cassandra JVM exited during start-up');
      },
    });
    logger.info({ ...fields, version: info.releaseVersion, ms: Date.now() - started }, 'cassandra node ready');
    return proc;
  } catch (err) {
    await proc.stop();
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Local Cassandra node ${node.index} (${node.address}:${node.nativePort}) failed to start: ${message}` +
        (await logTails(node, proc.outputPath)),
    );
  }
}
