import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type HealthClient = grpc.Client & {
  check(request: { service: string }, callback: (error: Error | null, response: { status: string }) => void): void;
};

/** Asks a server's standard health service for the status of `service` ('' = the server). */
export async function healthStatus(address: string, service = ''): Promise<string> {
  const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))),
    );
  } finally {
    client.close();
  }
}

/**
 * Polls the health of `services` on `address` until every one reports `status`; resolves with the
 * milliseconds that took, or rejects after `timeoutMs` with the last statuses seen.
 */
export async function waitForHealth(
  address: string,
  status: 'SERVING' | 'NOT_SERVING',
  timeoutMs: number,
  services: readonly string[] = [''],
): Promise<number> {
  const started = Date.now();
  let seen: string[] = [];
  while (Date.now() - started < timeoutMs) {
    seen = await Promise.all(services.map((service) => healthStatus(address, service).catch(String)));
    if (seen.every((s) => s === status)) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`health of ${services.join(', ')} stayed ${seen.join(', ')}, not ${status}, for ${timeoutMs} ms`);
}
