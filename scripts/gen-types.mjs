// Generates TypeScript types for the protos into src/generated (not committed).
// The generator emits extensionless imports, so the folder is marked CommonJS:
// our ESM code only imports types from it, which TypeScript allows across the boundary.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const generator = require.resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');
const out = 'src/generated';
mkdirSync(out, { recursive: true });
execFileSync(
  process.execPath,
  [
    generator,
    'cassette/v1/serving.proto',
    'cassette/v1/ingestion.proto',
    'cassette/v1/registry.proto',
    'feast/serving/ServingService.proto',
    '--includeDirs=proto',
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    `--outDir=${out}`,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');
