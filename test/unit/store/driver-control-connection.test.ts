import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { describe, expect, it } from 'vitest';

/*
 * NODEJS-681, the cassandra-driver 4.10.0 bug patches/cassandra-driver+4.10.0.patch fixes: the
 * control connection's first connection after an outage drops while the refresh that opened it
 * still reads the topology; a second refresh starts, nulls the shared host and connection, and
 * the first one dies on `this.connection.endpoint` as an unhandled rejection that kills the
 * process. Driven here with the driver's own ControlConnection and scripted fake connections.
 *
 * Runs once package.json applies the patch on install (postinstall: patch-package).
 */
const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  scripts?: Record<string, string>;
};
const patchApplied = /patch-package/.test(packageJson.scripts?.postinstall ?? '');

interface FakeConnection extends EventEmitter {
  endpoint: string;
  sendStream(
    request: { query?: string },
    options: unknown,
    callback: (err: Error | null, result?: unknown) => void,
  ): void;
}

interface ControlConnectionInternals {
  connection: FakeConnection | null;
  host: unknown;
  hosts: { values(): { shutdown(): void }[] };
  log: (...args: unknown[]) => void;
  init(): Promise<void>;
  shutdown(): void;
}

const driver = createRequire(import.meta.url);
const lib = (name: string): unknown => driver(`cassandra-driver/lib/${name}`);
const socketError = (message: string): Error => Object.assign(new Error(message), { isSocketError: true });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!patchApplied)('cassandra-driver control connection (patched NODEJS-681)', () => {
  it('survives its first connection after an outage dropping during the refresh', async () => {
    const ControlConnection = lib('control-connection') as new (
      options: unknown,
      profiles: unknown,
      context: unknown,
    ) => ControlConnectionInternals;
    const clientOptions = lib('client-options') as { extend(options: object): unknown };
    const { ProfileManager } = lib('execution-profile') as { ProfileManager: new (options: unknown) => unknown };
    const types = lib('types') as { protocolVersion: { maxSupported: number } };
    const { reconnection } = lib('policies') as {
      reconnection: { ConstantReconnectionPolicy: new (delayMs: number) => unknown };
    };

    let accepting = true; // does "Cassandra" accept connections
    let dropNext = false; // the next connection drops during its second read of system.local
    const opened: FakeConnection[] = [];
    const connect = (endpoint: string): FakeConnection => {
      if (!accepting) throw socketError('connect ECONNREFUSED');
      const drops = dropNext;
      dropNext = false;
      let localReads = 0;
      const connection = Object.assign(new EventEmitter(), {
        endpoint,
        endpointFriendlyName: endpoint,
        protocolVersion: types.protocolVersion.maxSupported,
        connected: true,
        sendStream(request: { query?: string }, _options: unknown, callback: (err: Error | null, r?: unknown) => void) {
          if (drops && /system\.local/.test(request.query ?? '') && ++localReads === 2) {
            setTimeout(() => {
              connection.emit('socketClose');
              callback(socketError('socket closed'));
            }, 5);
            return;
          }
          callback(null, { rows: [{}] });
        },
        send(request: { query?: string }) {
          return new Promise((resolve, reject) =>
            connection.sendStream(request, null, (err, result) => (err ? reject(err) : resolve(result))),
          );
        },
        close: (callback?: () => void) => callback?.(),
        closeAsync: () => Promise.resolve(),
      });
      opened.push(connection);
      return connection;
    };

    const options = clientOptions.extend({
      contactPoints: ['127.0.0.1'],
      policies: { reconnection: new reconnection.ConstantReconnectionPolicy(20) },
    });
    const control = new ControlConnection(options, new ProfileManager(options), {
      // After an outage every pool is empty: the refresh starts over from the contact points.
      borrowHostConnection: () => {
        throw new Error('no pooled connection');
      },
      createConnection: connect,
    });
    control.log = () => undefined;

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await control.init();
      accepting = false; // outage: the control connection drops, nothing accepts connections
      opened[0]?.emit('socketClose');
      await sleep(10);
      accepting = true; // back, but the first new connection drops mid-refresh
      dropNext = true;
      await sleep(300);

      expect(unhandled).toEqual([]);
      expect(opened.length).toBeGreaterThanOrEqual(3);
      expect(control.connection).toBe(opened[opened.length - 1]);
      expect(control.host).not.toBeNull();
    } finally {
      process.off('unhandledRejection', onUnhandled);
      control.shutdown();
      for (const host of control.hosts.values()) host.shutdown();
    }
  });
});
