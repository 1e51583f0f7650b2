import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Authentication and client TLS of a local node, for trying (and testing) against a secured Cassandra. */
export interface NodeSecurity {
  /**
   * PasswordAuthenticator and CassandraAuthorizer. Cassandra creates the superuser
   * cassandra/cassandra shortly after start-up; the readiness probe logs in with `probeLogin`.
   */
  readonly passwordAuthentication?: boolean;
  /** The login the readiness probe uses (default cassandra/cassandra). */
  readonly probeLogin?: { readonly username: string; readonly password: string };
  /** client_encryption_options: every client connection must use TLS, with this PKCS#12 keystore. */
  readonly clientEncryption?: { readonly keystore: string; readonly keystorePassword: string };
}

/** Everything that differs between the nodes of a local cluster. */
export interface NodeLayout {
  /** 1-based node number. */
  index: number;
  /** listen_address and rpc_address. */
  address: string;
  nativePort: number;
  storagePort: number;
  /** `address:storagePort` of the seed(s), comma-separated. */
  seeds: string;
  initialToken: string;
  /** Root of everything the node writes. */
  dir: string;
  confDir: string;
  logDir: string;
  dataDir: string;
  commitlogDir: string;
  savedCachesDir: string;
  hintsDir: string;
  cdcRawDir: string;
  triggersDir: string;
  yamlPath: string;
  logbackPath: string;
  security?: NodeSecurity;
}

// Murmur3Partitioner tokens span [-2^63, 2^63).
const TOKEN_MIN = -(2n ** 63n);
const TOKEN_SPAN = 2n ** 64n;

/** Evenly spaced single tokens for an n-node ring (node 1 gets the minimum). */
export function initialToken(index: number, nodes: number): string {
  return (TOKEN_MIN + (TOKEN_SPAN / BigInt(nodes)) * BigInt(index - 1)).toString();
}

/**
 * Storage (inter-node) port derived from the native port, so clusters on
 * different CQL ports never collide: 9042 -> 7000 (Cassandra's defaults),
 * 9142 -> 7100, 9242 -> 7200.
 */
export function storagePortFor(nativePort: number): number {
  const port = nativePort - 2042;
  if (port < 1024) {
    throw new Error(
      `Native port ${nativePort} is too low: the storage port is derived as port - 2042 and must be >= 1024`,
    );
  }
  return port;
}

/** Address of node `index`: the base IPv4 loopback address with its last octet advanced. */
export function nodeAddress(baseAddress: string, index: number): string {
  const octets = baseAddress.split('.').map(Number);
  const last = (octets[3] ?? 0) + index - 1;
  if (octets.length !== 4 || octets[0] !== 127 || last > 254) {
    throw new Error(`Cannot derive a loopback address for node ${index} from ${baseAddress}`);
  }
  return [...octets.slice(0, 3), last].join('.');
}

export function nodeLayout(options: {
  root: string;
  index: number;
  nodes: number;
  baseAddress: string;
  nativePort: number;
  security?: NodeSecurity;
}): NodeLayout {
  const { root, index, nodes, baseAddress, nativePort, security } = options;
  const storagePort = storagePortFor(nativePort);
  const dir = join(root, `node${index}`);
  const confDir = join(dir, 'conf');
  return {
    index,
    address: nodeAddress(baseAddress, index),
    nativePort,
    storagePort,
    seeds: `${nodeAddress(baseAddress, 1)}:${storagePort}`,
    initialToken: initialToken(index, nodes),
    dir,
    confDir,
    logDir: join(dir, 'logs'),
    dataDir: join(dir, 'data'),
    commitlogDir: join(dir, 'commitlog'),
    savedCachesDir: join(dir, 'saved_caches'),
    hintsDir: join(dir, 'hints'),
    cdcRawDir: join(dir, 'cdc_raw'),
    triggersDir: join(confDir, 'triggers'),
    yamlPath: join(confDir, 'cassandra.yaml'),
    logbackPath: join(confDir, 'logback.xml'),
    ...(security && { security }),
  };
}

/** How long a write may wait for the commit log's next fsync (see commitlog_sync in the yaml). */
export const COMMITLOG_SYNC_GROUP_WINDOW = '15ms';

function securityYaml(security: NodeSecurity | undefined): string {
  const lines: string[] = [];
  if (security?.passwordAuthentication) {
    lines.push(
      'authenticator: PasswordAuthenticator',
      'authorizer: CassandraAuthorizer',
      'role_manager: CassandraRoleManager',
    );
  }
  const encryption = security?.clientEncryption;
  if (encryption) {
    lines.push(
      'client_encryption_options:',
      '  enabled: true',
      '  optional: false',
      `  keystore: ${q(encryption.keystore)}`,
      `  keystore_password: ${q(encryption.keystorePassword)}`,
      '  store_type: PKCS12',
      '  require_client_auth: false',
    );
  }
  return lines.length > 0 ? `\n# Security (NodeSecurity)\n${lines.join('\n')}\n` : '';
}

// JSON strings are valid YAML double-quoted scalars, which keeps odd paths safe.
const q = (value: string): string => JSON.stringify(value);

function cassandraYaml(node: NodeLayout): string {
  return `# Written by cassette for a local development/test node; rewritten on every start.
cluster_name: cassette
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
num_tokens: 1
initial_token: ${q(node.initialToken)}
# All nodes of a fresh local cluster start empty, so there is nothing to stream.
auto_bootstrap: false

seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: ${q(node.seeds)}
listen_address: ${node.address}
rpc_address: ${node.address}
storage_port: ${node.storagePort}
native_transport_port: ${node.nativePort}
start_native_transport: true

data_file_directories:
  - ${q(node.dataDir)}
commitlog_directory: ${q(node.commitlogDir)}
saved_caches_directory: ${q(node.savedCachesDir)}
hints_directory: ${q(node.hintsDir)}
cdc_raw_directory: ${q(node.cdcRawDir)}

# Group commit: a write is acknowledged once the commit log is on disk (one fsync for every write
# within the window), so a node killed at once with its replicas loses no acknowledged write.
# Cassandra's default, periodic with 10 s, acknowledges before the fsync: killing every replica
# loses up to 10 s of acknowledged writes (README, "Operating it").
commitlog_sync: group
commitlog_sync_group_window: ${COMMITLOG_SYNC_GROUP_WINDOW}
commitlog_segment_size: 32MiB
commitlog_total_space: 512MiB

# Small footprint: a dev/test node shares the machine with everything else.
memtable_heap_space: 128MiB
memtable_offheap_space: 128MiB
key_cache_size: 16MiB
file_cache_size: 64MiB
concurrent_compactors: 1
${securityYaml(node.security)}`;
}

function logbackXml(): string {
  // cassandra.logdir is a system property set on the JVM command line.
  return `<configuration scan="false">
  <appender name="SYSTEMLOG" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>\${cassandra.logdir}/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>\${cassandra.logdir}/system.log.%i.zip</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>20MB</maxFileSize>
    </triggeringPolicy>
    <encoder>
      <pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern>
    </encoder>
  </appender>
  <!-- Console output is redirected to a file by the launcher; keep it to problems. -->
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter">
      <level>WARN</level>
    </filter>
    <encoder>
      <pattern>%-5level [%thread] %date{ISO8601} %logger{0} - %msg%n</pattern>
    </encoder>
  </appender>
  <root level="INFO">
    <appender-ref ref="SYSTEMLOG" />
    <appender-ref ref="STDOUT" />
  </root>
</configuration>
`;
}

/** Creates the node's directories and (re)writes its cassandra.yaml and logback.xml. */
export async function writeNodeConfig(node: NodeLayout): Promise<void> {
  const dirs = [
    node.confDir,
    node.logDir,
    node.dataDir,
    node.commitlogDir,
    node.savedCachesDir,
    node.hintsDir,
    node.cdcRawDir,
    node.triggersDir,
  ];
  await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
  await writeFile(node.yamlPath, cassandraYaml(node));
  await writeFile(node.logbackPath, logbackXml());
}
