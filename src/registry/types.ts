/** The value types a feature (or entity join key) can have. */
export const SCALAR_TYPES = ['int32', 'int64', 'float', 'double', 'string', 'bytes', 'bool', 'unix_timestamp'] as const;

export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ListType = `${ScalarType}_list`;
export type ValueType = ScalarType | ListType;

export const LIST_TYPES: readonly ListType[] = SCALAR_TYPES.map((t) => `${t}_list` as const);
export const VALUE_TYPES: readonly ValueType[] = [...SCALAR_TYPES, ...LIST_TYPES];

/** Join keys must be exact and hashable, so only these types can key an entity. */
export const ENTITY_KEY_TYPES = ['int32', 'int64', 'string', 'bytes'] as const;
export type EntityKeyType = (typeof ENTITY_KEY_TYPES)[number];

export function isListType(type: ValueType): type is ListType {
  return type.endsWith('_list');
}

export function elementType(type: ListType): ScalarType {
  return type.slice(0, -'_list'.length) as ScalarType;
}

export interface EntityDef {
  readonly name: string;
  readonly joinKey: string;
  readonly type: EntityKeyType;
}

export interface FeatureDef {
  readonly name: string;
  readonly type: ValueType;
}

export interface FeatureViewDef {
  readonly name: string;
  readonly entities: readonly EntityDef[];
  readonly features: readonly FeatureDef[];
  /** Maximum age of a served value, in seconds; 0 means values never go stale. */
  readonly ttlSeconds: number;
  /** Feature name -> position in `features` (and in stored rows). */
  readonly featureIndex: ReadonlyMap<string, number>;
}

export interface FeatureRef {
  readonly view: string;
  readonly feature: string;
}

export interface FeatureServiceDef {
  readonly name: string;
  readonly features: readonly FeatureRef[];
}

/** A validated registry with every cross-reference resolved. */
export interface Registry {
  readonly project: string;
  readonly entities: ReadonlyMap<string, EntityDef>;
  /** Join key -> entity. */
  readonly entitiesByJoinKey: ReadonlyMap<string, EntityDef>;
  readonly featureViews: ReadonlyMap<string, FeatureViewDef>;
  readonly featureServices: ReadonlyMap<string, FeatureServiceDef>;
}
