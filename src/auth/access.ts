import { CassetteError } from '../errors/index.js';
import type { Registry } from '../registry/types.js';
import type { Principal } from './authenticator.js';
import type { Action } from './scopes.js';

/**
 * What a method needs, by the type of its request message, so a method added later gets the rule
 * of its request type without anyone remembering to add one: a lookup (GetOnlineFeaturesRequest,
 * Cassette's or Feast's) needs `read` on every view it names, a write `write` on its view, a
 * listing or Feast's serving info any valid credential, and anything else `admin`.
 */
export type AccessRule =
  | { readonly kind: 'read' }
  | { readonly kind: 'write' }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'admin' };

const RULES_BY_REQUEST_TYPE: Readonly<Record<string, AccessRule>> = {
  GetOnlineFeaturesRequest: { kind: 'read' },
  WriteFeaturesRequest: { kind: 'write' },
  ListFeatureViewsRequest: { kind: 'authenticated' },
  ListFeatureServicesRequest: { kind: 'authenticated' },
  GetFeastServingInfoRequest: { kind: 'authenticated' },
};

const ADMIN: AccessRule = { kind: 'admin' };

export function accessRuleFor(requestType: string): AccessRule {
  return RULES_BY_REQUEST_TYPE[requestType] ?? ADMIN;
}

/** The fields of a lookup that name views, as Cassette's and Feast's requests (proto and JSON) carry them. */
export interface LookupTarget {
  readonly feature_service?: string | null;
  readonly features?: { readonly val?: readonly string[] } | readonly string[] | null;
}

/** The fields of a write that name its view (WriteFeaturesRequest; Feast's HTTP writes are mapped to it). */
export interface WriteTarget {
  readonly feature_view?: string;
}

function denied(principal: Principal, scope: string): CassetteError {
  return new CassetteError('PERMISSION_DENIED', `"${principal.name}" lacks the scope ${scope}`, {
    metadata: { scope, principal: principal.name },
  });
}

/** `action` on `view`, or the refusal naming the missing scope. */
export function checkView(principal: Principal, action: Action, view: string): CassetteError | undefined {
  return principal.scopes.allows(action, view) ? undefined : denied(principal, `${action}:${view}`);
}

/**
 * Whether `principal` may make a call of `rule` with `request`; the refusal names the missing scope.
 * Names the request gets wrong (unknown views or services, malformed references) are left to the
 * handler, which answers INVALID_ARGUMENT naming the field.
 */
export function authorize(
  principal: Principal,
  rule: AccessRule,
  request: unknown,
  registry: () => Registry,
): CassetteError | undefined {
  const scopes = principal.scopes;
  switch (rule.kind) {
    case 'authenticated':
      return undefined;
    case 'admin':
      return scopes.admin ? undefined : denied(principal, 'admin');
    case 'write': {
      if (scopes.writesAll) return undefined;
      const view = (request as WriteTarget).feature_view;
      // A stream's messages are checked one by one (see StreamAuthorizer): nothing to check yet.
      return view ? checkView(principal, 'write', view) : undefined;
    }
    case 'read':
      return scopes.readsAll ? undefined : checkLookup(principal, request as LookupTarget, registry);
  }
}

function checkLookup(principal: Principal, request: LookupTarget, registry: () => Registry): CassetteError | undefined {
  // Both members of the request's oneof are checked, whichever is set: a decoder keeps
  // both when a message carries both, and the handler then plans by `kind`. Checking only one would let a caller name a harmless service beside the
  // features it reads.
  if (request.feature_service) {
    // A feature service is readable when every view it draws on is.
    const service = registry().featureServices.get(request.feature_service);
    for (const ref of service?.features ?? []) {
      const refusal = checkView(principal, 'read', ref.view);
      if (refusal) return refusal;
    }
  }
  const features = request.features;
  const refs = Array.isArray(features) ? features : ((features as { val?: readonly string[] } | null)?.val ?? []);
  for (const ref of refs as readonly string[]) {
    const colon = ref.indexOf(':');
    if (colon <= 0) continue;
    const refusal = checkView(principal, 'read', ref.slice(0, colon));
    if (refusal) return refusal;
  }
  return undefined;
}
