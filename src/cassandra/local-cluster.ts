import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { nodeLayout, writeNodeConfig, type NodeLayout } from './config.js';
import { tail } from './exec.js';
import { checkHeap, jvmArgs, spawnNode, type JavaInfo, type NodeProcess } from './jvm.js';
import { waitForCql } from './probe.js';

export interface LocalClusterOptions {
  java: JavaInfo;
  /** Directory holding cassandra-all and its dependencies. */
  lib: string;
  /** Root data directory; node i lives in `<root>/node<i>`. */
  root: string;
  /** Address of node 1 (127.0.0.1 by default); node i gets the i-th address after it. */
  baseAddress: string;
  nativePort: number;
  nodes: 1 | 2 | 3;
  heap: string;
  /** Per node: from spawning the JVM to a successful CQL query. */
  startTimeoutMs: number;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

export interface LocalCluster {
  contactPoints: string[];
  localDataCenter: string;
  /** pid of each node's JVM, node 1 first (to kill or freeze a node in fault tests). */
  jvmPids: readonly number[];
  stop(): Promise<void>;
}

// How long a node gets to drain after SIGTERM before it is SIGKILLed.
const STOP_GRACE_MS = 30_000;
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

async function startNode(options: LocalClusterOptions, node: NodeLayout): Promise<NodeProcess> {
  const { java, lib, heap, env, logger, startTimeoutMs } = options;
  await assertBindable(node.address, node.storagePort);
  await assertBindable(node.address, node.nativePort);
  await writeNodeConfig(node);

  const args = jvmArgs({ lib, node, heap, ringDelayMs: RING_DELAY_MS });
  const started = Date.now();
  const proc = await spawnNode({ java: java.command, args, node, env, stopGraceMs: STOP_GRACE_MS });
  const fields = { node: node.index, address: node.address, port: node.nativePort, jvmPid: proc.pid };
  logger.info({ ...fields, dir: node.dir, storagePort: node.storagePort, heap }, 'starting cassandra node');

  try {
    const info = await waitForCql({
      host: node.address,
      port: node.nativePort,
      timeoutMs: startTimeoutMs,
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

/**
 * Starts a 1-3 node Cassandra cluster in child JVMs on loopback addresses:
 * node 1 (the seed) first, then the others one at a time, as Cassandra wants
 * nodes to join one by one.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  checkHeap(options.heap);
  const layouts = Array.from({ length: options.nodes }, (_, i) =>
    nodeLayout({
      root: options.root,
      index: i + 1,
      nodes: options.nodes,
      baseAddress: options.baseAddress,
      nativePort: options.nativePort,
    }),
  );

  const running: NodeProcess[] = [];
  const stopAll = async (): Promise<void> => {
    // Non-seeds first, so the seed sees the others leave.
    for (const proc of [...running].reverse()) {
      const started = Date.now();
      await proc.stop();
      options.logger.info({ jvmPid: proc.pid, ms: Date.now() - started }, 'cassandra node stopped');
    }
  };

  try {
    for (const node of layouts) running.push(await startNode(options, node));
  } catch (err) {
    await stopAll();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    contactPoints: layouts.map((node) => `${node.address}:${node.nativePort}`),
    localDataCenter: 'datacenter1', // what SimpleSnitch reports
    jvmPids: running.map((proc) => proc.pid),
    stop: () => (stopping ??= stopAll()),
  };
}
