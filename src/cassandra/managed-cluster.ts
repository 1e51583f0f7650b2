import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { nodeLayout, type NodeLayout, type NodeSecurity } from './config.js';
import { DEFAULT_CQL_PORT } from './contact-points.js';
import { checkHeap, configUrl } from './jvm.js';
import { prepareLocalJvm, type LocalJvm } from './local-jvm.js';
import { tryCql } from './probe.js';
import { processState, signalQuietly, waitForProcessState, type ProcessState } from './process-state.js';
import { STOP_GRACE_MS, startNode, type NodeLauncher } from './start-node.js';

/** Where a cluster lives: its state file is `<dataDir>/cluster.json`, node i's files are in `<dataDir>/node<i>`. */
export interface ClusterLocation {
  dataDir: string;
  /** Address of node 1; node i gets the i-th address from it. Default 127.0.0.1 when starting. */
  baseAddress?: string;
  /** CQL port of every node (each on its own address). Default 9042 when starting. */
  nativePort?: number;
}

export interface ManagedClusterOptions extends ClusterLocation {
  logger: Logger;
  /** Environment to find Java in and to pass to the JVMs. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Per node, JVM spawn to first successful CQL query. Default 180 s. */
  startTimeoutMs?: number;
  /** Where Cassandra's jars are cached (see resolveCassandraHome). */
  cassandraHome?: string;
  /** Java and jars already found by the caller; otherwise looked up when a node is launched. */
  jvm?: LocalJvm;
  /** Password authentication and client TLS on every node (status probes then log in too). */
  security?: NodeSecurity;
}

export interface StartClusterOptions extends ManagedClusterOptions {
  nodes: number;
  /** JVM heap per node (-Xms = -Xmx). Default 1g. */
  heap?: string;
  /**
   * Leave the JVMs running when this process exits (what `cassette cassandra start` does).
   * Default false: they die with this process, even a SIGKILLed one.
   */
  detached?: boolean;
}

/** The signals `kill` sends: crash a node, freeze it, resume it. */
export type NodeSignal = 'KILL' | 'STOP' | 'CONT';
export const NODE_SIGNALS: readonly NodeSignal[] = ['KILL', 'STOP', 'CONT'];

export interface NodeStatus {
  index: number;
  address: string;
  port: number;
  /** The JVM's pid as last launched; null if it never started. */
  pid: number | null;
  process: ProcessState;
  /** Answered `SELECT ... FROM system.local` just now. */
  cql: boolean;
  dir: string;
}

interface NodeRecord {
  index: number;
  address: string;
  pid: number | null;
}

/** The state file: enough to find, signal and relaunch every node from another process. */
interface ClusterRecord {
  version: 1;
  baseAddress: string;
  nativePort: number;
  heap: string;
  detached: boolean;
  nodes: NodeRecord[];
  /** Password authentication and client TLS, kept so a restart (from any process) keeps them. */
  security?: NodeSecurity;
}

const STATE_FILE = 'cluster.json';
const MAX_NODES = 9;
const LOCAL_DATA_CENTER = 'datacenter1'; // what SimpleSnitch reports
// How long a signalled node may take to reach the state the signal implies.
const SIGNAL_SETTLE_MS = 10_000;
// A status probe must not hang on a node that accepts TCP but does not answer.
const STATUS_CQL_TIMEOUT_MS = 2_000;
const SIGNAL_EFFECT: Record<NodeSignal, ProcessState> = { KILL: 'gone', STOP: 'stopped', CONT: 'running' };

async function readRecord(root: string): Promise<ClusterRecord | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const record = JSON.parse(text) as Partial<ClusterRecord>;
  if (record.version !== 1 || !Array.isArray(record.nodes)) {
    throw new Error(`${join(root, STATE_FILE)} is not a cassette cluster state file (version 1)`);
  }
  return record as ClusterRecord;
}

/**
 * A local Cassandra cluster of JVMs on consecutive loopback addresses, one per
 * node, all on the same CQL port. Its state lives in a file in the data dir, so
 * any process can act on a cluster another one started: the CLI starts it
 * detached and later inspects, signals, restarts and stops it; tests and
 * `findOrStartCassandra` start it tied to their own process.
 */
export class ManagedCluster {
  readonly localDataCenter = LOCAL_DATA_CENTER;
  private jvm: LocalJvm | undefined;

  private constructor(
    /** Absolute data dir. */
    readonly dataDir: string,
    private readonly record: ClusterRecord,
    private readonly options: ManagedClusterOptions,
  ) {
    this.jvm = options.jvm;
  }

  /**
   * Starts the nodes one at a time (node 1, the seed, first), each once the
   * previous answers CQL, and resolves when all do. Reuses the data of an
   * earlier cluster in the same dir; refuses if one of its nodes still runs.
   * On failure, stops what it started.
   */
  static async start(options: StartClusterOptions): Promise<ManagedCluster> {
    const { nodes } = options;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
      throw new Error(`Invalid number of Cassandra nodes: ${nodes} (expected 1 to ${MAX_NODES})`);
    }
    const dataDir = resolve(options.dataDir);
    const previous = await ManagedCluster.open({ ...options, baseAddress: undefined, nativePort: undefined });
    const running = previous ? (await previous.status()).filter((node) => node.process !== 'gone') : [];
    if (running.length > 0) {
      const which = running.map((node) => `node ${node.index} pid ${node.pid}`).join(', ');
      throw new Error(
        `A cluster is already running in ${dataDir} (${which}); stop it first (cassette cassandra stop --data-dir ${dataDir})`,
      );
    }
    const record: ClusterRecord = {
      version: 1,
      baseAddress: options.baseAddress ?? '127.0.0.1',
      nativePort: options.nativePort ?? DEFAULT_CQL_PORT,
      heap: checkHeap(options.heap ?? '1g'),
      detached: options.detached ?? false,
      nodes: [],
      ...(options.security && { security: options.security }),
    };
    const cluster = new ManagedCluster(dataDir, record, options);
    // Derive every address and port first: a bad base address fails before anything starts.
    for (let index = 1; index <= nodes; index++) {
      record.nodes.push({ index, address: cluster.layoutOf(index, nodes).address, pid: null });
    }
    await mkdir(dataDir, { recursive: true });
    await cluster.save();
    try {
      for (let index = 1; index <= nodes; index++) await cluster.launch(index);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /**
   * The cluster recorded in `dataDir`, or undefined if there is none. A given
   * base address or port must match the recorded one.
   */
  static async open(options: ManagedClusterOptions): Promise<ManagedCluster | undefined> {
    const dataDir = resolve(options.dataDir);
    const record = await readRecord(dataDir);
    if (!record) return undefined;
    const expected = `${options.baseAddress ?? record.baseAddress}:${options.nativePort ?? record.nativePort}`;
    const recorded = `${record.baseAddress}:${record.nativePort}`;
    if (expected !== recorded) {
      throw new Error(`The cluster in ${dataDir} is based at ${recorded}, not ${expected}`);
    }
    return new ManagedCluster(dataDir, record, options);
  }

  get baseAddress(): string {
    return this.record.baseAddress;
  }

  get nativePort(): number {
    return this.record.nativePort;
  }

  get size(): number {
    return this.record.nodes.length;
  }

  /** `address:port` of every node, for cassandra-driver (which also needs protocolOptions.port off 9042). */
  get contactPoints(): string[] {
    return this.record.nodes.map((node) => `${node.address}:${this.record.nativePort}`);
  }

  /** The pid of node `index` as last launched. */
  pidOf(index: number): number | null {
    return this.nodeRecord(index).pid;
  }

  /** Per node: is the JVM running, stopped or gone, and does it answer CQL. */
  async status(): Promise<NodeStatus[]> {
    return Promise.all(
      this.record.nodes.map(async (node): Promise<NodeStatus> => {
        const process = await this.processStateOf(node.index);
        const contactPoint = `${node.address}:${this.record.nativePort}`;
        // A frozen JVM's kernel still accepts connections: don't wait for its silence.
        const cql =
          process === 'running' && (await tryCql(contactPoint, STATUS_CQL_TIMEOUT_MS, this.security)) !== undefined;
        const { dir } = this.layoutOf(node.index);
        return {
          index: node.index,
          address: node.address,
          port: this.record.nativePort,
          pid: node.pid,
          process,
          cql,
          dir,
        };
      }),
    );
  }

  /**
   * Sends SIGKILL, SIGSTOP or SIGCONT to node `index`'s JVM and waits until it
   * is gone, stopped or running again.
   */
  async signal(index: number, signal: NodeSignal): Promise<void> {
    const pid = this.nodeRecord(index).pid;
    const marker = configUrl(this.layoutOf(index));
    if (pid === null || (await processState(pid, marker)) === 'gone') {
      throw new Error(`Node ${index} of the cluster in ${this.dataDir} is not running`);
    }
    signalQuietly(pid, `SIG${signal}`);
    if (!(await waitForProcessState(pid, marker, [SIGNAL_EFFECT[signal]], SIGNAL_SETTLE_MS))) {
      throw new Error(`Node ${index} (pid ${pid}) did not react to SIG${signal} within ${SIGNAL_SETTLE_MS} ms`);
    }
    this.options.logger.info({ node: index, jvmPid: pid, signal }, 'signalled cassandra node');
  }

  /** Stops node `index` if it still runs (gracefully, as `stop` does), starts it again and waits for CQL. */
  async restart(index: number): Promise<void> {
    await this.stopNode(index);
    await this.launch(index);
  }

  /** Stops every node (the seed last) and removes the state file; the data stays. Safe to call twice. */
  async stop(): Promise<void> {
    for (const node of [...this.record.nodes].reverse()) await this.stopNode(node.index);
    await rm(join(this.dataDir, STATE_FILE), { force: true });
  }

  private nodeRecord(index: number): NodeRecord {
    const node = this.record.nodes[index - 1];
    if (!node) throw new Error(`No node ${index}: the cluster in ${this.dataDir} has nodes 1 to ${this.size}`);
    return node;
  }

  /** As started (the state file), else as this process was asked. */
  private get security(): NodeSecurity | undefined {
    return this.record.security ?? this.options.security;
  }

  private layoutOf(index: number, nodes = this.size): NodeLayout {
    const { baseAddress, nativePort } = this.record;
    return nodeLayout({ root: this.dataDir, index, nodes, baseAddress, nativePort, security: this.security });
  }

  private async processStateOf(index: number): Promise<ProcessState> {
    const pid = this.nodeRecord(index).pid;
    return pid === null ? 'gone' : processState(pid, configUrl(this.layoutOf(index)));
  }

  /** Writes the state file atomically: a reader never sees half of it. */
  private async save(): Promise<void> {
    const path = join(this.dataDir, STATE_FILE);
    await writeFile(`${path}.tmp`, JSON.stringify(this.record, null, 2) + '\n');
    await rename(`${path}.tmp`, path);
  }

  private async launcher(): Promise<NodeLauncher> {
    const { logger, startTimeoutMs = 180_000, cassandraHome } = this.options;
    const env = this.options.env ?? process.env;
    if (!this.jvm) {
      const found = await prepareLocalJvm({ env, logger, cassandraHome });
      if ('missing' in found) throw new Error(`Cannot run Cassandra locally: ${found.missing}`);
      this.jvm = found;
    }
    const { heap, detached } = this.record;
    return { ...this.jvm, heap, detached, startTimeoutMs, env, logger };
  }

  private async launch(index: number): Promise<void> {
    const node = this.nodeRecord(index);
    const proc = await startNode(await this.launcher(), this.layoutOf(index));
    node.pid = proc.pid;
    await this.save();
  }

  /** SIGTERM (and SIGCONT, should it be frozen), SIGKILL after the grace period; resolves once it is gone. */
  private async stopNode(index: number): Promise<void> {
    const pid = this.nodeRecord(index).pid;
    if (pid === null) return;
    const marker = configUrl(this.layoutOf(index));
    if ((await processState(pid, marker)) === 'gone') return;
    const started = Date.now();
    signalQuietly(pid, 'SIGTERM');
    signalQuietly(pid, 'SIGCONT');
    if (!(await waitForProcessState(pid, marker, ['gone'], STOP_GRACE_MS))) {
      signalQuietly(pid, 'SIGKILL');
      if (!(await waitForProcessState(pid, marker, ['gone'], SIGNAL_SETTLE_MS))) {
        throw new Error(`Node ${index} (pid ${pid}) survived SIGKILL`);
      }
    }
    this.options.logger.info({ node: index, jvmPid: pid, ms: Date.now() - started }, 'cassandra node stopped');
  }
}
