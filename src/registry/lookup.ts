import { CassetteError } from '../errors/index.js';
import type { FeatureViewDef, Registry } from './types.js';

/** The feature view a command's `--view` names, or an error listing the known ones. */
export function viewNamed(registry: Registry, name: string): FeatureViewDef {
  const view = registry.featureViews.get(name);
  if (!view) {
    throw new CassetteError(
      'CST_ERR_UNKNOWN_FEATURE_VIEW',
      `--view: unknown feature view "${name}" (known: ${[...registry.featureViews.keys()].join(', ')})`,
      { metadata: { field: 'view' } },
    );
  }
  return view;
}
