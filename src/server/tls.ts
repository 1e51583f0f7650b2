import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

import * as grpc from '@grpc/grpc-js';

import { watchFiles } from '../auth/watch.js';
import type { SecurityCounters } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import type { Logger } from '../observability/logger.js';

type TlsConfig = NonNullable<Config['tls']>;

async function readContextOptions(tls: TlsConfig): Promise<SecureContextOptions> {
  const [cert, key, ca] = await Promise.all([
    readFile(tls.certFile),
    readFile(tls.keyFile),
    tls.clientCaFile ? readFile(tls.clientCaFile) : undefined,
  ]);
  const options: SecureContextOptions = { cert, key, ...(ca && { ca }) };
  // Throws for a key that does not match the certificate, or unparsable PEM: checked before use.
  createSecureContext(options);
  return options;
}

/**
 * Server credentials whose certificate, key and client CA can change while the server runs.
 * grpc-js's server subscribes to its credentials (ServerCredentials._addWatcher) and calls
 * setSecureContext on its TLS server with each update, so new handshakes use the new files and
 * established connections keep theirs. grpc-js's own FileWatcherCertificateProvider only polls;
 * this feeds the same mechanism from watchFiles (file events plus a periodic check).
 */
class ReloadingServerCredentials extends grpc.ServerCredentials {
  constructor(mtls: boolean, initial: SecureContextOptions) {
    // requestCert + rejectUnauthorized: under mTLS a client without a certificate signed by the CA fails the handshake.
    super({ requestCert: mtls, rejectUnauthorized: mtls }, initial);
  }

  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** The server's TLS files, loaded, watched and reloaded; listeners hear of each new set. */
export class ServerTls {
  private readonly listeners: ((options: SecureContextOptions) => void)[] = [];
  private stopWatching: (() => void) | undefined;
  readonly credentials: ReloadingServerCredentials;

  private constructor(
    private readonly tls: TlsConfig,
    private options: SecureContextOptions,
    private readonly logger: Logger,
    private readonly counters: SecurityCounters | undefined,
  ) {
    this.credentials = new ReloadingServerCredentials(Boolean(tls.clientCaFile), options);
  }

  static async load(tls: TlsConfig, logger: Logger, counters?: SecurityCounters): Promise<ServerTls> {
    let options: SecureContextOptions;
    try {
      options = await readContextOptions(tls);
    } catch (error) {
      throw new ConfigError(`tls: cannot use the certificate files: ${(error as Error).message}`);
    }
    const loaded = new ServerTls(tls, options, logger.child({ component: 'tls' }), counters);
    const files = [tls.certFile, tls.keyFile, ...(tls.clientCaFile ? [tls.clientCaFile] : [])];
    loaded.stopWatching = watchFiles(files, tls.reloadCheckMs, () => void loaded.reload());
    return loaded;
  }

  /** Whether clients must present a certificate (mTLS). */
  get mutual(): boolean {
    return Boolean(this.tls.clientCaFile);
  }

  /** Options for an https server (Feast's HTTP API) with the current files. */
  get httpsOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    return { ...this.options, requestCert: this.mutual, rejectUnauthorized: this.mutual };
  }

  onReload(listener: (options: SecureContextOptions) => void): void {
    this.listeners.push(listener);
  }

  private async reload(): Promise<void> {
    try {
      this.options = await readContextOptions(this.tls);
    } catch (error) {
      // A half-rotated pair (new cert, old key) fails here; the next change event retries.
      this.counters?.reloaded('certificate', false);
      this.logger.error({ message: (error as Error).message }, 'TLS files not reloaded; keeping the previous ones');
      return;
    }
    this.credentials.update(this.options);
    for (const listener of this.listeners) listener(this.options);
    this.counters?.reloaded('certificate', true);
    this.logger.info({ certFile: this.tls.certFile }, 'TLS certificate reloaded');
  }

  close(): void {
    this.stopWatching?.();
  }
}
