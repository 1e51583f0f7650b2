import { readFileSync } from 'node:fs';

import { CassetteError } from '../errors/index.js';
import { parseRegistry } from './parse.js';
import type { Registry } from './types.js';

export interface RegistryFile {
  /** The text as read: `apply` stores it beside the version. */
  readonly source: string;
  readonly registry: Registry;
}

/** Reads and validates a registry YAML file; throws RegistryValidationError listing every problem. */
export function readRegistryFile(path: string): RegistryFile {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new CassetteError('CST_ERR_FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { source, registry: parseRegistry(source, path) };
}
