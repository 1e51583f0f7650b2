import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { FromGenerator, Job, JobResult, ToGenerator } from '../loadgen/protocol.js';

const ENTRY = fileURLToPath(new URL('../loadgen/main.ts', import.meta.url));

export interface WindowHooks {
  onStart(): void;
  onEnd(): void;
}

/** The harness's handle on the load-generator child process: one job at a time. */
export class Generator {
  private nextId = 1;
  private current:
    { id: number; hooks: WindowHooks; resolve: (r: JobResult) => void; reject: (e: Error) => void } | undefined;
  private exitedWith: string | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromGenerator) => this.onMessage(message));
    child.once('exit', (code, signal) => {
      this.exitedWith = `load generator exited (${signal ?? code})`;
      this.current?.reject(new Error(this.exitedWith));
      this.current = undefined;
    });
  }

  /** Forks the generator (TypeScript through tsx, like the harness itself) and waits until it is ready. */
  static async start(): Promise<Generator> {
    // Extra node flags for the generator alone, e.g. BENCH_GENERATOR_FLAGS='--trace-gc' or '--cpu-prof'.
    const extra = (process.env.BENCH_GENERATOR_FLAGS ?? '').split(/\s+/).filter((flag) => flag.length > 0);
    const child = fork(ENTRY, [], {
      // A larger young generation and a full GC before each job (main.ts) keep the generator's own
      // pauses out of the measurement.
      execArgv: ['--import', 'tsx', '--expose-gc', '--max-semi-space-size=32', ...extra],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (message: FromGenerator) =>
        message.type === 'ready' ? resolve() : reject(new Error(`unexpected first message ${message.type}`)),
      );
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code} while starting`)));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('message');
    return new Generator(child);
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  run(
    job: Omit<Job, 'id'>,
    hooks: WindowHooks = { onStart: () => undefined, onEnd: () => undefined },
  ): Promise<JobResult> {
    if (this.exitedWith) return Promise.reject(new Error(this.exitedWith));
    if (this.current) return Promise.reject(new Error('the load generator runs one job at a time'));
    const id = this.nextId++;
    return new Promise<JobResult>((resolve, reject) => {
      this.current = { id, hooks, resolve, reject };
      this.send({ type: 'run', job: { ...job, id } });
    });
  }

  private onMessage(message: FromGenerator): void {
    const current = this.current;
    if (!current || !('id' in message) || message.id !== current.id) return;
    switch (message.type) {
      case 'window':
        if (message.phase === 'start') current.hooks.onStart();
        else current.hooks.onEnd();
        return;
      case 'result':
        this.current = undefined;
        current.resolve(message.result);
        return;
      case 'failed':
        this.current = undefined;
        current.reject(new Error(`load generator: ${message.message}`));
        return;
    }
  }

  private send(message: ToGenerator): void {
    this.child.send(message);
  }

  /** Asks the generator to close its connections and exit; kills it if it does not. */
  async stop(): Promise<void> {
    if (this.exitedWith) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exitedWith) this.child.kill('SIGKILL');
  }
}
