import type { Logger } from '../observability/logger.js';

/**
 * Ctrl-C or SIGTERM asks a resumable job (`ingest`, `migrate-from-feast`) to stop: it finishes
 * the writes in flight and saves its checkpoint. A second signal quits at once.
 */
export function stopOnSignals(logger: Logger): { readonly requested: () => boolean; release(): void } {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    logger.warn({ signal }, 'stopping: finishing the writes in flight and saving the checkpoint (again to quit now)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    requested: () => stopping,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
