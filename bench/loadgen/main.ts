/**
 * The load generator: a child process of the harness (bench/harness.ts), so that sending
 * requests and timing them never competes with the harness's own work on one event loop.
 * It takes one job at a time over IPC, reports the measured window's start and end as they
 * happen (the harness samples server CPU and cache counters then), and answers with encoded
 * histograms and counts.
 */
import type * as http from 'node:http';

import type * as grpc from '@grpc/grpc-js';
import type cassandra from 'cassandra-driver';

import { keyBatches, poolRequests } from '../lib/dataset.js';
import { hash32 } from '../lib/random.js';
import type { FromGenerator, Job, JobResult, ToGenerator } from './protocol.js';
import { runClosedLoop, runOpenLoop } from './run.js';
import {
  cassetteTarget,
  connectDirectSession,
  connectPerRequestTarget,
  directDriverTarget,
  feastGrpcTarget,
  feastHttpTarget,
  httpAgent,
  openChannels,
  poolFor,
  type Target,
} from './targets.js';

const channels = new Map<string, grpc.Client[]>();
const sessions = new Map<string, cassandra.Client>();
const agents = new Map<string, http.Agent>();

function post(message: FromGenerator): void {
  process.send?.(message);
}

/** Recently used targets with their encoded request pools: a probe and its open loop, or a sweep, share one. */
const targets = new Map<string, Target>();
const TARGETS_KEPT = 4;

async function targetFor(job: Job): Promise<Target> {
  const key = JSON.stringify([job.target, job.workload]);
  const cached = targets.get(key);
  if (cached) {
    // Most recently used last.
    targets.delete(key);
    targets.set(key, cached);
    return cached;
  }
  const target = await buildTarget(job);
  targets.set(key, target);
  if (targets.size > TARGETS_KEPT) targets.delete(targets.keys().next().value!);
  return target;
}

async function buildTarget(job: Job): Promise<Target> {
  const { workload } = job;
  const requests = poolRequests(workload.batch);
  // The same key batches for every system and feature count: the scenarios of a cell read the same rows.
  const batches = keyBatches(workload.keys, workload.entities, workload.batch, requests, workload.seed);
  const pool = poolFor(batches, workload.features, workload.seed);
  const target = job.target;
  switch (target.kind) {
    case 'cassette':
    case 'feast-grpc': {
      // Both APIs of one server share its channels, as one client of both would.
      const channelKey = `${target.address}/${target.channels}`;
      let clients = channels.get(channelKey);
      if (!clients) {
        clients = await openChannels(target.address, target.channels);
        channels.set(channelKey, clients);
      }
      return target.kind === 'cassette'
        ? cassetteTarget(clients, pool, target.deadlineMs)
        : feastGrpcTarget(clients, pool, target.deadlineMs);
    }
    case 'feast-http': {
      const agentKey = `${target.address}/${target.connections}`;
      let agent = agents.get(agentKey);
      if (!agent) agents.set(agentKey, (agent = httpAgent(target.connections)));
      return feastHttpTarget(agent, target.address, pool, target.deadlineMs);
    }
    case 'direct-driver': {
      const sessionKey = `${target.cassandra.contactPoints.join(',')}/${target.cassandra.keyspace}`;
      let session = sessions.get(sessionKey);
      if (!session) {
        session = await connectDirectSession(target.cassandra);
        sessions.set(sessionKey, session);
      }
      return directDriverTarget(session, target.cassandra.keyspace, pool, target.deadlineMs);
    }
    case 'connect-per-request':
      return connectPerRequestTarget(target.cassandra, pool);
  }
}

async function run(job: Job): Promise<JobResult> {
  const target = await targetFor(job);
  // Collect the garbage of building the request pool now rather than during the run.
  (globalThis as { gc?: () => void }).gc?.();
  const onWindow = (phase: 'start' | 'end') => post({ type: 'window', id: job.id, phase });
  if (job.load.mode === 'closed') return runClosedLoop(target, job.load, job.verify, onWindow);
  const drainMs = (job.target.kind === 'connect-per-request' ? 30_000 : job.target.deadlineMs) + 2_000;
  return runOpenLoop(target, job.load, hash32(job.workload.seed, job.id, 7), drainMs, job.verify, onWindow);
}

async function shutdown(): Promise<void> {
  for (const clients of channels.values()) for (const client of clients) client.close();
  for (const agent of agents.values()) agent.destroy();
  await Promise.all([...sessions.values()].map((session) => session.shutdown().catch(() => undefined)));
  process.disconnect?.();
}

process.on('message', (message: ToGenerator) => {
  if (message.type === 'shutdown') {
    void shutdown();
    return;
  }
  const { job } = message;
  run(job).then(
    (result) => post({ type: 'result', id: job.id, result }),
    (error: unknown) =>
      post({ type: 'failed', id: job.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
// The harness went away: nothing left to do.
process.on('disconnect', () => process.exit(0));
post({ type: 'ready' });
