import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * Calls `onChange` when any of `files` changes: on a file-system event (fs.watch on the file's
 * directory, so a file replaced by rename, as cert-manager and Kubernetes secret volumes do, is
 * still seen) and, because some volumes send no events, on a periodic check of size, mtime and
 * inode. Changes are debounced so a half-written pair of files is read once both are in place.
 * Returns a function that stops watching.
 */
export function watchFiles(files: readonly string[], checkEveryMs: number, onChange: () => void): () => void {
  const DEBOUNCE_MS = 200;
  let signatures = new Map<string, string>();
  let pending: NodeJS.Timeout | undefined;
  let stopped = false;

  const signatureOf = async (file: string): Promise<string> => {
    try {
      const s = await stat(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  const readSignatures = async (): Promise<Map<string, string>> =>
    new Map(await Promise.all(files.map(async (file) => [file, await signatureOf(file)] as const)));

  const check = async (): Promise<void> => {
    const now = await readSignatures();
    if (stopped) return;
    const changed = [...now].some(([file, signature]) => signatures.get(file) !== signature);
    signatures = now;
    if (changed) onChange();
  };
  const schedule = (): void => {
    if (stopped) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => {
      pending = undefined;
      void check();
    }, DEBOUNCE_MS);
    pending.unref();
  };

  void readSignatures().then((initial) => {
    // Only a change seen before this first read would be newer; keep whichever came later.
    if (signatures.size === 0) signatures = initial;
  });
  const watchers: FSWatcher[] = [];
  for (const directory of new Set(files.map((file) => file.slice(0, Math.max(file.lastIndexOf('/'), 0)) || '.'))) {
    try {
      const watcher = watch(directory, { persistent: false }, schedule);
      // A watcher that fails (directory removed, too many watches) leaves the periodic check.
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Not watchable here: the periodic check covers it.
    }
  }
  const timer = setInterval(() => void check(), checkEveryMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    for (const watcher of watchers) watcher.close();
  };
}
