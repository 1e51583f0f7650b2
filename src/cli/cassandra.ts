import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import Table from 'cli-table3';
import type { Command } from 'commander';

import {
  ManagedCluster,
  NODE_SIGNALS,
  type ClusterLocation,
  type NodeSecurity,
  type NodeSignal,
  type NodeStatus,
} from '../cassandra/index.js';
import { commandContext, type GlobalOptions } from './context.js';

const DEFAULT_DATA_DIR = '.cassette/cluster';

interface LocationFlags {
  dataDir: string;
  baseAddress?: string;
  port?: string;
}

interface StartFlags extends LocationFlags {
  nodes: string;
  heap: string;
  startTimeout: string;
  passwordAuth?: boolean;
  keystore?: string;
  keystorePasswordFile?: string;
}

interface NodeFlags extends LocationFlags {
  node: string;
}

function integerFlag(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${flag} ${text}: expected an integer from ${min} to ${max}`);
  }
  return value;
}

function locationOf(flags: LocationFlags): ClusterLocation {
  return {
    dataDir: flags.dataDir,
    baseAddress: flags.baseAddress,
    nativePort: flags.port === undefined ? undefined : integerFlag('--port', flags.port, 1, 65535),
  };
}

function parseSignal(text: string): NodeSignal {
  const name = text.toUpperCase().replace(/^SIG/, '');
  const signal = NODE_SIGNALS.find((candidate) => candidate === name);
  if (!signal) throw new Error(`--signal ${text}: expected one of ${NODE_SIGNALS.join(', ')}`);
  return signal;
}

function renderStatus(nodes: readonly NodeStatus[]): string {
  const table = new Table({
    head: ['node', 'address', 'pid', 'process', 'cql', 'dir'],
    style: { head: [], border: [] },
  });
  for (const node of nodes) {
    table.push([
      node.index,
      `${node.address}:${node.port}`,
      node.pid ?? '-',
      node.process,
      node.cql ? 'up' : 'down',
      node.dir,
    ]);
  }
  return table.toString();
}

/** --password-auth, --keystore and --keystore-password-file as the launcher's NodeSecurity. */
function nodeSecurityOf(flags: StartFlags): NodeSecurity | undefined {
  if ((flags.keystore === undefined) !== (flags.keystorePasswordFile === undefined)) {
    throw new Error('--keystore and --keystore-password-file go together');
  }
  const keystore = flags.keystore && resolve(flags.keystore);
  const keystorePassword =
    flags.keystorePasswordFile && readFileSync(flags.keystorePasswordFile, 'utf8').replace(/\r?\n$/, '');
  if (!flags.passwordAuth && !keystore) return undefined;
  return {
    ...(flags.passwordAuth && { passwordAuthentication: true }),
    ...(keystore && keystorePassword !== undefined && { clientEncryption: { keystore, keystorePassword } }),
  };
}

/** Adds `cassette cassandra start|status|stop|kill|restart`: a local cluster that outlives the command. */
export function cassandraCommands(program: Command): void {
  const group = program
    .command('cassandra')
    .description('run a local Cassandra cluster (one JVM per node) that keeps running between commands');

  const withLocation = (command: Command): Command =>
    command
      .option('--data-dir <dir>', "the cluster's directory: state file and one folder per node", DEFAULT_DATA_DIR)
      .option('--base-address <addr>', 'address of node 1; node i gets the i-th address from it (default 127.0.0.1)')
      .option('--port <port>', 'CQL port of every node (default 9042; inter-node port = port - 2042)');

  const find = (flags: LocationFlags, startTimeoutMs?: number): Promise<ManagedCluster | undefined> => {
    const { logger } = commandContext(program.opts<GlobalOptions>());
    return ManagedCluster.open({ ...locationOf(flags), logger, startTimeoutMs });
  };
  const open = async (flags: LocationFlags, startTimeoutMs?: number): Promise<ManagedCluster> => {
    const cluster = await find(flags, startTimeoutMs);
    if (!cluster) throw new Error(`No cluster in ${flags.dataDir} (start one with: cassette cassandra start)`);
    return cluster;
  };

  const nodeOf = (cluster: ManagedCluster, flags: NodeFlags): number =>
    integerFlag('--node', flags.node, 1, cluster.size);

  withLocation(group.command('start'))
    .description('start the nodes one by one and return once every node answers CQL; they keep running')
    .option('--nodes <count>', 'number of nodes', '1')
    .option('--heap <size>', 'JVM heap per node', '1g')
    .option('--start-timeout <seconds>', 'per node, from launch to answering CQL', '180')
    .option('--password-auth', 'PasswordAuthenticator: clients log in (superuser cassandra/cassandra to begin with)')
    .option(
      '--keystore <file.p12>',
      'client TLS: every client connection must be encrypted, with this PKCS#12 keystore',
    )
    .option('--keystore-password-file <file>', "a file holding the keystore's password")
    .action(async (flags: StartFlags) => {
      const { logger } = commandContext(program.opts<GlobalOptions>());
      const security = nodeSecurityOf(flags);
      const cluster = await ManagedCluster.start({
        ...(security && { security }),
        ...locationOf(flags),
        nodes: integerFlag('--nodes', flags.nodes, 1, 9),
        heap: flags.heap,
        startTimeoutMs: integerFlag('--start-timeout', flags.startTimeout, 1, 86_400) * 1000,
        detached: true,
        logger,
      });
      process.stdout.write(
        `${renderStatus(await cluster.status())}\n` +
          `Cassandra is running. Point Cassette at it with:\n` +
          `  CASSANDRA_CONTACT_POINTS=${cluster.contactPoints.join(',')} CASSANDRA_LOCAL_DC=${cluster.localDataCenter}\n`,
      );
    });

  withLocation(group.command('status'))
    .description('per node: is its JVM running, stopped (SIGSTOP) or gone, and does it answer CQL')
    .option('--json', 'print JSON instead of a table')
    .action(async (flags: LocationFlags & { json?: boolean }) => {
      const nodes = await (await open(flags)).status();
      process.stdout.write((flags.json ? JSON.stringify(nodes, null, 2) : renderStatus(nodes)) + '\n');
    });

  withLocation(group.command('stop'))
    .description('stop every node (SIGTERM, SIGKILL after 30 s); the data stays in the data dir')
    .action(async (flags: LocationFlags) => {
      const cluster = await find(flags);
      if (cluster) await cluster.stop();
      process.stdout.write(
        cluster ? `Stopped the cluster in ${cluster.dataDir}\n` : `No cluster in ${flags.dataDir}\n`,
      );
    });

  withLocation(group.command('kill'))
    .description("send a signal to one node's JVM: KILL (crash), STOP (freeze) or CONT (resume)")
    .requiredOption('--node <n>', 'node number, from 1')
    .option('--signal <name>', 'KILL, STOP or CONT', 'KILL')
    .action(async (flags: NodeFlags & { signal: string }) => {
      const signal = parseSignal(flags.signal);
      const cluster = await open(flags);
      const node = nodeOf(cluster, flags);
      await cluster.signal(node, signal);
      process.stdout.write(`Sent SIG${signal} to node ${node} (pid ${cluster.pidOf(node)})\n`);
    });

  withLocation(group.command('restart'))
    .description('stop one node if it runs, start it again and return once it answers CQL')
    .requiredOption('--node <n>', 'node number, from 1')
    .option('--start-timeout <seconds>', 'from launch to answering CQL', '180')
    .action(async (flags: NodeFlags & { startTimeout: string }) => {
      const cluster = await open(flags, integerFlag('--start-timeout', flags.startTimeout, 1, 86_400) * 1000);
      const node = nodeOf(cluster, flags);
      await cluster.restart(node);
      process.stdout.write(`Node ${node} is up again (pid ${cluster.pidOf(node)})\n`);
    });
}
