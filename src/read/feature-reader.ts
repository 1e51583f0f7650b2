import { rowCacheKey } from '../cache/index.js';
import type { CallContext } from '../concurrency/call.js';
import type { AdmissionGate } from '../concurrency/admission.js';
import { runBounded, withDeadline } from '../concurrency/index.js';
import type { Config } from '../config/index.js';
import { CassetteError } from '../errors/index.js';
import type { GetOnlineFeaturesRequest__Output } from '../generated/cassette/v1/GetOnlineFeaturesRequest.js';
import type { RegistrySync } from '../registry/sync.js';
import { storeError, type Projection } from '../store/index.js';
import { isUnstorableKey } from '../values/index.js';
import { requestedMinWriteTime } from '../coherence/token.js';
import { encodeArrowResponse } from './arrow.js';
import { planLookup, plannedKeyColumns, type LookupPlan } from './plan.js';
import type { RowReader } from './row-reader.js';
import { encodeResponse, type RowFreshness, type ServedRow } from './wire.js';

/**
 * Which cached rows a read may be answered with (src/coherence): rows read after every write
 * the other replicas logged more than the staleness bound ago.
 */
export interface CacheFreshness {
  /** The earliest read time (Date.now() ms) of a cached row of `view` that may be served at `nowMs`. */
  minReadAtMs(view: string, nowMs: number): number;
}

/** Per view slot, per distinct key: whether the row came from the cache, and when it was read. */
interface RowOrigins {
  readonly fromCache: Uint8Array[];
  readonly readAtMs: Float64Array[];
}

/**
 * GetOnlineFeatures without a transport: plans a request against the registry serving now, reads
 * its rows through a RowReader (layers over the store, see row-reader.ts) and encodes the answer.
 *
 * A request's reads are bounded as a whole: what the reader can answer at once (cache hits) is
 * taken synchronously, only misses become (view, key) read tasks, flattened so that one
 * concurrency bound and one deadline cover the whole request, and the request is admitted (see
 * AdmissionGate) at the cost of its misses: a request the cache answers whole is never held back.
 *
 * Cached rows are served only when read late enough: after the request's consistency token (its
 * min_write_time, less the clock skew allowed between servers) and after what cache coherence
 * requires (see CacheFreshness); an older one is read again.
 */
export class FeatureReader {
  constructor(
    private readonly registry: Pick<RegistrySync, 'current'>,
    private readonly rows: RowReader,
    private readonly limits: Pick<Config['serving'], 'maxBatchSize' | 'maxConcurrentReads'>,
    /** The process-wide bound on entity reads in flight. */
    private readonly admission: Pick<AdmissionGate, 'enter' | 'leave'>,
    /** Cache coherence across replicas; undefined when it is off (cached rows then age out by ttl only). */
    private readonly coherence?: CacheFreshness,
    /** How far apart two servers' clocks may be: a token from another server is moved this much later. */
    private readonly maxClockSkewMs: number = 0,
  ) {}

  /** The GetOnlineFeaturesResponse for `request`, as protobuf bytes. */
  async getOnlineFeatures(request: GetOnlineFeaturesRequest__Output, call: CallContext): Promise<Buffer> {
    const { plan, rows, origins, nowMs } = await this.lookup(request, call);
    const encoded = encodeResponse(plan, rows, nowMs * 1000, origins && rowFreshness(plan, origins, nowMs));
    call.observation?.encoded(encoded.length);
    return encoded;
  }

  /**
   * The ArrowFeatures message for `request` (GetOnlineFeaturesArrow), as protobuf bytes: the same
   * lookup as getOnlineFeatures, answered as an Arrow IPC stream (see arrow.ts).
   */
  async getOnlineFeaturesArrow(request: GetOnlineFeaturesRequest__Output, call: CallContext): Promise<Buffer> {
    const { plan, rows, origins, nowMs } = await this.lookup(request, call);
    const encoded = encodeArrowResponse(plan, rows, nowMs * 1000, {
      keyColumns: plannedKeyColumns(plan, Object.keys(request.entities ?? {})),
      rowEventTimes: request.row_event_times === true,
      freshness: origins && rowFreshness(plan, origins, nowMs),
    });
    call.observation?.encoded(encoded.length);
    return encoded;
  }

  /** Plans `request` and reads its rows, honouring its consistency token. */
  private async lookup(
    request: GetOnlineFeaturesRequest__Output,
    call: CallContext,
  ): Promise<{ plan: LookupPlan; rows: (ServedRow | null)[][]; origins: RowOrigins | undefined; nowMs: number }> {
    const { version, registry } = this.registry.current;
    const plan = planLookup(registry, request, this.limits);
    call.observation?.planned(plan);
    const tokenMicros = requestedMinWriteTime(request.min_write_time, call.minWriteTime);
    const minReadAtMs = tokenMicros > 0 ? tokenMicros / 1000 + this.maxClockSkewMs : Number.NEGATIVE_INFINITY;
    const origins = request.include_freshness === true ? newOrigins(plan) : undefined;
    const rows = await this.readRows(version, plan, call, minReadAtMs, origins);
    return { plan, rows, origins, nowMs: Date.now() };
  }

  /**
   * The rows `plan` needs, per view slot and distinct key, for a plan made on registry `version`
   * (the Feast APIs plan their requests themselves and read through here). No cached row read
   * before `tokenReadAtMs` is served (a consistency token), nor one coherence refuses; `origins`
   * records where each row came from, when the response says how fresh it is.
   */
  async readRows(
    version: number,
    plan: LookupPlan,
    call: CallContext,
    tokenReadAtMs: number = Number.NEGATIVE_INFINITY,
    origins?: RowOrigins,
  ): Promise<(ServedRow | null)[][]> {
    const reader = this.rows;
    const rowsByView = plan.views.map((lookup) => new Array<ServedRow | null>(lookup.keys.length));
    const caching = reader.caching;
    // Uncached reads select only the requested features; cached ones whole rows.
    const projections: (Projection | undefined)[] | undefined = caching
      ? undefined
      : plan.views.map((lookup) => reader.projection(lookup.view, lookup.featureIndexes));
    const minReadAt = caching ? new Float64Array(plan.views.length) : undefined;
    const startedAtMs = Date.now();
    const missSlots: number[] = [];
    const missIndexes: number[] = [];
    const missKeys: string[] = [];
    for (let slot = 0; slot < plan.views.length; slot++) {
      const lookup = plan.views[slot]!;
      const rows = rowsByView[slot]!;
      let slotMinReadAt = tokenReadAtMs;
      if (minReadAt) {
        const coherent = this.coherence?.minReadAtMs(lookup.view.name, startedAtMs) ?? Number.NEGATIVE_INFINITY;
        if (coherent > slotMinReadAt) slotMinReadAt = coherent;
        minReadAt[slot] = slotMinReadAt;
      }
      for (let i = 0; i < lookup.keys.length; i++) {
        if (isUnstorableKey(lookup.keys[i]!)) {
          rows[i] = null;
          continue;
        }
        if (caching) {
          const key = rowCacheKey(version, lookup.view.name, lookup.keyStrings[i]!);
          const row = reader.peek(key, slotMinReadAt);
          if (row !== undefined) {
            rows[i] = row;
            if (origins) {
              origins.fromCache[slot]![i] = 1;
              origins.readAtMs[slot]![i] = reader.peekedReadAtMs;
            }
            continue;
          }
          missKeys.push(key);
        }
        missSlots.push(slot);
        missIndexes.push(i);
      }
    }
    call.observation?.cacheChecked(missSlots.length);
    if (missSlots.length === 0) return rowsByView;

    const readTask = async (task: number): Promise<void> => {
      const slot = missSlots[task]!;
      const index = missIndexes[task]!;
      const lookup = plan.views[slot]!;
      const row = await reader.read(
        lookup.view,
        lookup.keys[index]!,
        caching ? missKeys[task]! : '',
        call,
        projections?.[slot],
        minReadAt ? minReadAt[slot]! : Number.NEGATIVE_INFINITY,
      );
      rowsByView[slot]![index] = row;
      // A row not found carries no read time: this request's reads started no earlier than startedAtMs.
      if (origins) origins.readAtMs[slot]![index] = row?.readAtMs ?? startedAtMs;
    };
    const cost = missSlots.length;
    const admission = this.admission;
    const admitted = admission.enter(cost, call.deadline, Date.now());
    if (admitted !== undefined) await admitted;
    // The reads give their room back when they have settled, not when the deadline gives up on them.
    const reads = runBounded(cost, this.limits.maxConcurrentReads, readTask).finally(() => admission.leave(cost));
    try {
      await withDeadline(
        reads,
        call.deadline,
        () => new CassetteError('DEADLINE_EXCEEDED', 'the deadline passed before all rows were read'),
      );
      call.observation?.readsDone();
    } catch (error) {
      throw storeError(error, Date.now() >= call.deadline);
    }
    return rowsByView;
  }
}

function newOrigins(plan: LookupPlan): RowOrigins {
  return {
    fromCache: plan.views.map((lookup) => new Uint8Array(lookup.keys.length)),
    // NaN: not read (an unstorable key), age 0.
    readAtMs: plan.views.map((lookup) => new Float64Array(lookup.keys.length).fill(Number.NaN)),
  };
}

/** Per entity row: from the cache if any of its view rows was; the age of its oldest view row. */
function rowFreshness(plan: LookupPlan, origins: RowOrigins, nowMs: number): RowFreshness {
  const fromCache = new Uint8Array(plan.batchSize);
  const ageMs = new Float64Array(plan.batchSize);
  for (let slot = 0; slot < plan.views.length; slot++) {
    const rowToKey = plan.views[slot]!.rowToKey;
    const cached = origins.fromCache[slot]!;
    const readAt = origins.readAtMs[slot]!;
    for (let r = 0; r < plan.batchSize; r++) {
      const k = rowToKey[r]!;
      if (cached[k]) fromCache[r] = 1;
      const age = nowMs - readAt[k]!;
      if (age > ageMs[r]!) ageMs[r] = age;
    }
  }
  return { fromCache, ageMs };
}
