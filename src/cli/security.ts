import type { Command } from 'commander';

import { newToken, PRINCIPAL_NAME, scopeProblem, tokensFileLine } from '../auth/index.js';
import { clientSecurityFromFiles, type ClientSecurity } from '../client/index.js';

/** The command-line options of a command that calls a server. */
export interface ClientSecurityOptions {
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
}

export function withClientSecurity(command: Command): Command {
  return command
    .option('--tls', "connect with TLS (verifying the server's certificate with the system's CAs unless --ca)")
    .option('--ca <file>', "CA certificate (PEM) to verify the server's certificate with; implies --tls")
    .option('--cert <file>', 'client certificate (PEM) for mTLS; implies --tls')
    .option('--key <file>', "the client certificate's private key (PEM)")
    .option('--token <token>', 'bearer token (prefer $CASSETTE_TOKEN: a flag is visible to other local users)');
}

/** The client's TLS files and token, from the flags and $CASSETTE_TOKEN. */
export function clientSecurity(options: ClientSecurityOptions, env: NodeJS.ProcessEnv = process.env): ClientSecurity {
  const token = options.token ?? (env.CASSETTE_TOKEN?.trim() || undefined);
  return clientSecurityFromFiles({ ...options, token });
}

function collectScope(value: string, previous: string[]): string[] {
  const problem = scopeProblem(value);
  if (problem) throw new Error(`--scope: ${problem}`);
  return [...previous, value];
}

/** `cassette token create`: a new random token, printed once, and its tokens-file line (hash only). */
export function tokenCommand(program: Command): void {
  const group = program.command('token').description('bearer tokens for auth.tokensFile');
  group
    .command('create')
    .description('print a new random token once, and the line to add to the tokens file')
    .requiredOption('--name <name>', 'who the token is for (shown in logs and the audit line)')
    .requiredOption('--scope <scope>', 'read:<view>, write:<view>, admin or *; repeat for more', collectScope, [])
    .action((options: { name: string; scope: string[] }) => {
      if (!PRINCIPAL_NAME.test(options.name)) {
        throw new Error('--name: 1-128 of A-Z a-z 0-9 _ . @ : - /');
      }
      const token = newToken();
      process.stdout.write(
        `token (shown once; give it to "${options.name}" and keep it secret):\n\n  ${token}\n\n` +
          'add to the tokens file (auth.tokensFile), under tokens:\n\n' +
          `${tokensFileLine(options.name, token, options.scope)}\n`,
      );
    });
}
