/**
 * Scopes: what a principal may do. `read:<view>` and `write:<view>` name feature views, where `*`
 * in the view matches any run of characters (`read:*`, `write:user_*`); `admin` allows registry
 * changes and every method without a finer rule; `*` alone allows everything.
 */

export type Action = 'read' | 'write';

const SCOPE_PATTERN = /^(?:\*|admin|(read|write):[A-Za-z0-9_*]+)$/;

/** Why `scope` is not a valid scope, or undefined when it is. */
export function scopeProblem(scope: string): string | undefined {
  return SCOPE_PATTERN.test(scope)
    ? undefined
    : `"${scope}" is not a scope (read:<view>, write:<view>, admin or *; * in a view name matches any characters)`;
}

/** A view glob as a test: exact names compare as strings, globs as an anchored expression. */
function viewMatcher(glob: string): (view: string) => boolean {
  if (glob === '*') return () => true;
  if (!glob.includes('*')) return (view) => view === glob;
  const expression = new RegExp(`^${glob.replaceAll('*', '.*')}$`);
  return (view) => expression.test(view);
}

/** Decisions remembered per scope set; views are few, so this bound is never reached in practice. */
const MAX_DECISIONS = 4096;

/** A principal's scopes, compiled once; decisions per (action, view) are remembered. */
export class ScopeSet {
  readonly admin: boolean;
  /** Allowed on every view: the hot path skips working out which views a request names. */
  readonly readsAll: boolean;
  readonly writesAll: boolean;
  private readonly matchers: Record<Action, ((view: string) => boolean)[]> = { read: [], write: [] };
  private readonly decided: Record<Action, Map<string, boolean>> = { read: new Map(), write: new Map() };

  constructor(readonly scopes: readonly string[]) {
    const all = scopes.includes('*');
    this.admin = all || scopes.includes('admin');
    for (const scope of scopes) {
      const colon = scope.indexOf(':');
      if (colon < 0) continue;
      const action = scope.slice(0, colon) as Action;
      this.matchers[action].push(viewMatcher(scope.slice(colon + 1)));
    }
    this.readsAll = all || scopes.includes('read:*');
    this.writesAll = all || scopes.includes('write:*');
  }

  allows(action: Action, view: string): boolean {
    if (action === 'read' ? this.readsAll : this.writesAll) return true;
    const decided = this.decided[action];
    let allowed = decided.get(view);
    if (allowed === undefined) {
      allowed = this.matchers[action].some((matches) => matches(view));
      if (decided.size >= MAX_DECISIONS) decided.clear();
      decided.set(view, allowed);
    }
    return allowed;
  }
}

/** Everything allowed: the principal of a server without authorization. */
export const ALL_SCOPES = new ScopeSet(['*']);
