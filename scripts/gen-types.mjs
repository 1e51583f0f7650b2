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

/** Types for `files`; with `grpc`, also a root file per proto named after it (services). */
function generate(files, grpc) {
  execFileSync(
    process.execPath,
    [
      generator,
      ...files,
      '--includeDirs=proto',
      '--keepCase',
      '--longs=String',
      '--enums=String',
      '--defaults',
      '--oneofs',
      ...(grpc ? ['--grpcLib=@grpc/grpc-js'] : []),
      `--outDir=${out}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

generate(
  [
    'cassette/v1/serving.proto',
    'cassette/v1/ingestion.proto',
    'cassette/v1/registry.proto',
    'feast/serving/ServingService.proto',
  ],
  true,
);
// Feast's registry and entity key (read by `cassette import-feast` and `migrate-from-feast`):
// messages only, so no root file (whose name, Registry.ts, would clash with registry.ts).
generate(['feast/core/Registry.proto', 'feast/types/EntityKey.proto'], false);
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');
