import { readFileSync } from 'node:fs';
import { checkServerIdentity } from 'node:tls';

import cassandra from 'cassandra-driver';

import { ConfigError, type Config } from '../config/index.js';

/**
 * The driver options that log in to Cassandra and encrypt the connection: cassandra.username with
 * the password from $CASSANDRA_PASSWORD or cassandra.passwordFile (never a flag or the config
 * file, so it is not in shell history, `ps` or a committed file), and cassandra.tls.
 */
export function cassandraSecurityOptions(
  settings: Config['cassandra'],
  env: NodeJS.ProcessEnv = process.env,
): Pick<cassandra.ClientOptions, 'authProvider' | 'sslOptions'> {
  const fromEnv = env.CASSANDRA_PASSWORD;
  let password: string | undefined = fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
  if (password === undefined && settings.passwordFile) {
    try {
      password = readFileSync(settings.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(
        `cassandra.passwordFile ${settings.passwordFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
  }
  if (settings.username && password === undefined) {
    throw new ConfigError(
      'cassandra.username is set but no password is: set CASSANDRA_PASSWORD or cassandra.passwordFile',
    );
  }
  if (!settings.username && password !== undefined) {
    throw new ConfigError(
      'a Cassandra password is set (CASSANDRA_PASSWORD or cassandra.passwordFile) but no cassandra.username',
    );
  }
  const tls = settings.tls;
  const read = (path: string, field: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new ConfigError(`cassandra.tls.${field} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  return {
    ...(settings.username &&
      password !== undefined && {
        authProvider: new cassandra.auth.PlainTextAuthProvider(settings.username, password),
      }),
    ...(tls && {
      sslOptions: {
        rejectUnauthorized: true,
        ...(tls.caFile && { ca: [read(tls.caFile, 'caFile')] }),
        ...(tls.certFile && { cert: read(tls.certFile, 'certFile') }),
        ...(tls.keyFile && { key: read(tls.keyFile, 'keyFile') }),
        // Off: the chain is still verified against the CA, but not the name (nodes reached by IP
        // with certificates that name none, as many clusters' are).
        checkServerIdentity: tls.verifyHostname ? checkServerIdentity : () => undefined,
      },
    }),
  };
}
