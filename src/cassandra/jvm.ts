import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeLayout } from './config.js';
import { run } from './exec.js';
import { signalQuietly } from './process-state.js';

export interface JavaInfo {
  command: string;
  major: number;
}

/** The `java` to use (JAVA_HOME first, then PATH) if it is Java 17 or newer. */
export async function findJava(env: NodeJS.ProcessEnv): Promise<JavaInfo | undefined> {
  const fromHome = env.JAVA_HOME ? join(env.JAVA_HOME, 'bin', 'java') : undefined;
  const command = fromHome && existsSync(fromHome) ? fromHome : 'java';
  const result = await run(command, ['-version'], { env, timeoutMs: 30_000 });
  if (result.code !== 0) return undefined;
  // `openjdk version "17.0.15"`, or `"1.8.0_392"` for Java 8 and older.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.output);
  if (!match) return undefined;
  const first = Number(match[1]);
  const major = first === 1 ? Number(match[2]) : first;
  return major >= 17 ? { command, major } : undefined;
}

// Cassandra's JDK 17 module flags (conf/jvm17-server.options): it reaches into
// JDK internals for off-heap memory, JMX, attach, and netty's direct buffers.
const ADD_EXPORTS = [
  'java.base/jdk.internal.misc',
  'java.management.rmi/com.sun.jmx.remote.internal.rmi',
  'java.rmi/sun.rmi.registry',
  'java.rmi/sun.rmi.server',
  'java.sql/java.sql',
  'java.base/java.lang.ref',
  'jdk.unsupported/sun.misc',
  'jdk.compiler/com.sun.tools.javac.file',
  'jdk.attach/sun.tools.attach',
];
const ADD_OPENS = [
  'java.base/java.lang.module',
  'java.base/jdk.internal.loader',
  'java.base/jdk.internal.ref',
  'java.base/jdk.internal.reflect',
  'java.base/jdk.internal.math',
  'java.base/jdk.internal.module',
  'java.base/jdk.internal.util.jar',
  'jdk.management/com.sun.management.internal',
  'java.base/sun.nio.ch',
  'java.base/java.io',
  'java.base/java.lang.reflect',
  'jdk.compiler/com.sun.tools.javac',
  'java.base/java.lang',
  'java.base/java.util',
];

const JDK17_SERVER_FLAGS = [
  '-XX:+UseG1GC',
  '-XX:+ParallelRefProcEnabled',
  '-XX:MaxTenuringThreshold=1',
  '-XX:G1HeapRegionSize=16m',
  '-XX:G1RSetUpdatingPauseTimePercent=5',
  '-XX:MaxGCPauseMillis=300',
  '-XX:InitiatingHeapOccupancyPercent=70',
  '-Djdk.attach.allowAttachSelf=true',
  ...ADD_EXPORTS.map((target) => `--add-exports=${target}=ALL-UNNAMED`),
  ...ADD_OPENS.map((target) => `--add-opens=${target}=ALL-UNNAMED`),
  '-Dio.netty.tryReflectionSetAccessible=true',
  '-Dio.netty.allocator.useCacheForAllThreads=true',
  '-Dio.netty.allocator.maxOrder=11',
];

// From conf/jvm-server.options. Deliberately left out:
//   -XX:+AlwaysPreTouch: commits the whole heap up front, seconds of start-up time for a dev node.
//   -XX:+UseNUMA: a no-op on a single-NUMA-node host like this one.
//   -XX:-UseBiasedLocking: deprecated since JDK 15 (warns on 17) and removed later.
const GENERAL_SERVER_FLAGS = [
  '-ea',
  '-da:net.openhft...',
  '-XX:+UseThreadPriorities',
  '-XX:+HeapDumpOnOutOfMemoryError',
  '-Xss256k',
  '-XX:+UseTLAB',
  '-XX:+ResizeTLAB',
  '-XX:+PerfDisableSharedMem',
  '-Djava.net.preferIPv4Stack=true',
  // Not in the brief's list, but Cassandra's start-up check warns without one of
  // these: a node that hit OutOfMemoryError must not keep running half-broken.
  '-XX:+ExitOnOutOfMemoryError',
];

/** Validates a JVM memory size such as `512m` or `1g`. */
export function checkHeap(heap: string): string {
  if (!/^[1-9]\d*[kKmMgG]?$/.test(heap)) {
    throw new Error(`Invalid Cassandra heap size "${heap}": expected e.g. "512m" or "1g"`);
  }
  return heap;
}

/**
 * The node's cassandra.yaml as the URL its JVM is given: it appears in the JVM's
 * command line, which tells the node's process apart from any other with the same pid.
 */
export function configUrl(node: NodeLayout): string {
  return pathToFileURL(node.yamlPath).href;
}

/** Full `java` argument list for one node, main class last. */
export function jvmArgs(options: { lib: string; node: NodeLayout; heap: string; ringDelayMs: number }): string[] {
  const { lib, node, heap, ringDelayMs } = options;
  const args = [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    ...GENERAL_SERVER_FLAGS,
    ...JDK17_SERVER_FLAGS,
    `-XX:HeapDumpPath=${node.logDir}`,
    // Cassandra's own scripts load jamm as an agent so it can measure object sizes precisely.
    ...jammAgent(lib),
    '-Dcassandra-foreground=yes',
    `-Dcassandra.config=${configUrl(node)}`,
    `-Dlogback.configurationFile=${node.logbackPath}`,
    `-Dcassandra.logdir=${node.logDir}`,
    `-Dcassandra.storagedir=${node.dir}`,
    `-Dcassandra.triggers_dir=${node.triggersDir}`,
    // jemalloc is not preloaded; saying so turns a start-up warning into an info line.
    '-Dcassandra.libjemalloc=-',
    // Fast start for a local cluster: no waiting for gossip to settle, short ring delay.
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    `-Dcassandra.ring_delay_ms=${ringDelayMs}`,
    '-Dcassandra.superuser_setup_delay_ms=0',
    // Shutdown announcement to peers; the 2 s default only slows stop() on loopback.
    '-Dcassandra.shutdown_announce_in_ms=100',
    '-cp',
    join(lib, '*'),
    'org.apache.cassandra.service.CassandraDaemon',
  ];
  return args;
}

function jammAgent(lib: string): string[] {
  const jar = readdirSync(lib).find((name) => /^jamm-[\d.]+\.jar$/.test(name));
  return jar ? [`-javaagent:${join(lib, jar)}`] : [];
}

/*
 * The JVM runs under this POSIX sh wrapper so that it can never outlive the
 * Node process, even one killed with SIGKILL: the wrapper's stdin is a pipe
 * whose only writer is Node. A watcher reads it until EOF — which happens when
 * Node closes it (stop()) or dies — then SIGTERMs the JVM, and SIGKILLs it
 * after a grace period. The wrapper reports the JVM's pid on fd 3 and exits
 * with the JVM's exit status. (An async list's stdin is /dev/null in a
 * non-interactive shell unless redirected explicitly, hence the copy of the
 * pipe on fd 4 for the watcher.)
 *
 * Run as root, Cassandra's mlockall() would pin (and first touch) the whole
 * heap: ~2 s more start-up and gigabytes kept resident for a dev node. So the
 * wrapper drops CAP_IPC_LOCK via setpriv (which then execs java, keeping the
 * pid) where it can, making mlockall fail with one warning as for non-root users.
 *
 * A detached node (one the CLI leaves running) has no watcher: the wrapper
 * reports its own pid and execs the JVM, which then lives until signalled.
 *
 * Args: $1 = grace seconds, or "detached"; $2... = the java command line.
 */
const WRAPPER = `
grace=$1; shift
if [ "$(id -u)" = 0 ] && setpriv --bounding-set=-ipc_lock -- true 2>/dev/null; then
  set -- setpriv --bounding-set=-ipc_lock -- "$@"
fi
if [ "$grace" = detached ]; then
  echo "$$" >&3
  exec 3>&-
  exec "$@" </dev/null
fi
exec 4<&0
"$@" </dev/null 3>&- 4<&- &
jvm=$!
echo "$jvm" >&3
exec 3>&-
{
  while read -r _; do :; done
  kill -TERM "$jvm" 2>/dev/null
  i=0
  while kill -0 "$jvm" 2>/dev/null && [ "$i" -lt "$grace" ]; do sleep 1; i=$((i + 1)); done
  kill -KILL "$jvm" 2>/dev/null
} <&4 &
watcher=$!
exec 4<&-
trap 'kill -TERM "$jvm" 2>/dev/null' TERM INT HUP
while :; do
  wait "$jvm"; status=$?
  kill -0 "$jvm" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$status"
`;

export interface NodeProcess {
  /** pid of the JVM itself. */
  pid: number;
  /** File receiving the JVM's stdout and stderr. */
  outputPath: string;
  /** Resolves when the JVM (and its wrapper) has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the JVM is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Spawns the node's JVM under the orphan-proof wrapper, or, when `detached`,
 * as a JVM that outlives this process (its pid is then the child's own).
 */
export async function spawnNode(options: {
  java: string;
  args: string[];
  node: NodeLayout;
  env: NodeJS.ProcessEnv;
  /** After SIGTERM, how long the JVM may take to drain before SIGKILL. */
  stopGraceMs: number;
  /** Leave the JVM running when this process exits (default false: it dies with it). */
  detached?: boolean;
}): Promise<NodeProcess> {
  const { java, args, node, env, stopGraceMs } = options;
  const detached = options.detached ?? false;
  const outputPath = join(node.logDir, 'stdout.log');
  const out = openSync(outputPath, 'w');
  let child: ChildProcess;
  try {
    const mode = detached ? 'detached' : String(Math.ceil(stopGraceMs / 1000));
    child = spawn('/bin/sh', ['-c', WRAPPER, 'cassette-cassandra', mode, java, ...args], {
      cwd: node.dir,
      env,
      // Own process group: a terminal's Ctrl-C goes to Node, which decides;
      // and stop() can SIGKILL the whole group as a last resort.
      detached: true,
      stdio: [detached ? 'ignore' : 'pipe', out, out, 'pipe'],
    });
  } finally {
    closeSync(out);
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', () => {
      exitInfo = { code: null, signal: null };
      resolve(exitInfo);
    });
  });

  const stdin = child.stdin;
  const pidPipe = child.stdio[3];
  if ((!detached && !stdin) || !pidPipe || !('on' in pidPipe)) throw new Error('internal: wrapper pipes missing');
  stdin?.on('error', () => {}); // EPIPE once the wrapper is gone is expected

  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    pidPipe.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    pidPipe.once('end', () => {
      const value = Number.parseInt(text.trim(), 10);
      if (Number.isInteger(value) && value > 0) resolve(value);
      else reject(new Error(`Could not start the Cassandra JVM (see ${outputPath})`));
    });
  });

  // Neither the wrapper nor its stdin pipe should keep Node's event loop alive:
  // if the program ends without calling stop(), the pipe closes and the JVM goes with it
  // (or, detached, keeps running).
  child.unref();
  if (stdin && 'unref' in stdin && typeof stdin.unref === 'function') stdin.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exitInfo) return;
      child.ref(); // keep Node alive until we have seen the exit
      if (stdin) {
        stdin.end(); // EOF: the wrapper's watcher SIGTERMs the JVM
      } else {
        signalQuietly(pid, 'SIGTERM');
        signalQuietly(pid, 'SIGCONT'); // a stopped JVM only acts on SIGTERM once resumed
      }
      const timer = new Promise<'timeout'>((resolve) =>
        setTimeout(() => resolve('timeout'), stopGraceMs + (detached ? 0 : 5_000)).unref(),
      );
      if ((await Promise.race([exited, timer])) === 'timeout') {
        // Wrapper unresponsive, or JVM past its grace period: kill the whole process group.
        signalQuietly(-(child.pid ?? 0), 'SIGKILL');
        signalQuietly(pid, 'SIGKILL');
        await exited;
      }
    })();
    return stopping;
  };

  return { pid, outputPath, exited, hasExited: () => exitInfo !== undefined, stop };
}
