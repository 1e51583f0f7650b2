import { execFile } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** openssl req with a new EC P-256 key in `key`: `extra` makes it self-signed (-x509) or a request (none). */
async function request(key: string, out: string, commonName: string, extra: readonly string[]): Promise<void> {
  await run('openssl', [
    'req',
    ...extra,
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    out,
    '-subj',
    `/CN=${commonName}`,
  ]);
}

/** A self-signed CA made with openssl in `dir` (EC P-256, valid two days). */
export async function makeCa(dir: string, name: string): Promise<CertFiles> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await request(key, cert, name, ['-x509', '-days', '2']);
  return { cert, key };
}

/** A certificate for `commonName` (with subjectAltNames `sans`, e.g. IP:127.0.0.1) signed by `ca`. */
export async function makeCert(
  dir: string,
  name: string,
  ca: CertFiles,
  commonName: string,
  sans: readonly string[] = [],
): Promise<CertFiles> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await request(key, csr, commonName, []);
  await writeFile(ext, sans.length > 0 ? `subjectAltName=${sans.join(',')}\n` : '');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

/** Puts `from`'s files in `to`'s place by rename, key first, as secret volumes swap files. */
export async function replaceCert(from: CertFiles, to: CertFiles): Promise<void> {
  await rename(from.key, to.key);
  await rename(from.cert, to.cert);
}
