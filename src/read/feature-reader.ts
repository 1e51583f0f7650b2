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
import { planLookup, type LookupPlan } from './plan.js';
import type { RowReader } from './row-reader.js';
import { encodeResponse, type ServedRow } from './wire.js';

/**
 * GetOnlineFeatures without a transport: plans a request against the registry serving now, reads
 * its rows through a RowReader (layers over the store, see row-reader.ts) and encodes the answer.
 *
 * A request's reads are bounded as a whole: what the reader can answer at once (cache hits) is
 * taken synchronously, only misses become (view, key) read tasks, flattened so that one
 * concurrency bound and one deadline cover the whole request, and the request is admitted (see
 * AdmissionGate) at the cost of its misses: a request the cache answers whole is never held back.
 */
export class FeatureReader {
  constructor(
    private readonly registry: Pick<RegistrySync, 'current'>,
    private readonly rows: RowReader,
    private readonly limits: Pick<Config['serving'], 'maxBatchSize' | 'maxConcurrentReads'>,
    /** The process-wide bound on entity reads in flight. */
    private readonly admission: Pick<AdmissionGate, 'enter' | 'leave'>,
  ) {}

  /** The GetOnlineFeaturesResponse for `request`, as protobuf bytes. */
  async getOnlineFeatures(request: GetOnlineFeaturesRequest__Output, call: CallContext): Promise<Buffer> {
    const { plan, rows } = await this.lookup(request, call);
    const encoded = encodeResponse(plan, rows, Date.now() * 1000);
    call.observation?.encoded(encoded.length);
    return encoded;
  }

  /** The plan of `request` and the rows read for it (per view slot, per distinct key). */
  private async lookup(
    request: GetOnlineFeaturesRequest__Output,
    call: CallContext,
  ): Promise<{ plan: LookupPlan; rows: (ServedRow | null)[][] }> {
    const { version, registry } = this.registry.current;
    const plan = planLookup(registry, request, this.limits);
    call.observation?.planned(plan);
    return { plan, rows: await this.readRows(version, plan, call) };
  }

  /**
   * The rows `plan` needs, per view slot and distinct key, for a plan made on registry `version`
   * (the Feast APIs plan their requests themselves and read through here).
   */
  async readRows(version: number, plan: LookupPlan, call: CallContext): Promise<(ServedRow | null)[][]> {
    const reader = this.rows;
    const rowsByView = plan.views.map((lookup) => new Array<ServedRow | null>(lookup.keys.length));
    const caching = reader.caching;
    // Uncached reads select only the requested features; cached ones whole rows.
    const projections: (Projection | undefined)[] | undefined = caching
      ? undefined
      : plan.views.map((lookup) => reader.projection(lookup.view, lookup.featureIndexes));
    const missSlots: number[] = [];
    const missIndexes: number[] = [];
    const missKeys: string[] = [];
    for (let slot = 0; slot < plan.views.length; slot++) {
      const lookup = plan.views[slot]!;
      const rows = rowsByView[slot]!;
      for (let i = 0; i < lookup.keys.length; i++) {
        if (isUnstorableKey(lookup.keys[i]!)) {
          rows[i] = null;
          continue;
        }
        if (caching) {
          const key = rowCacheKey(version, lookup.view.name, lookup.keyStrings[i]!);
          const row = reader.peek(key);
          if (row !== undefined) {
            rows[i] = row;
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
      rowsByView[slot]![index] = await reader.read(
        lookup.view,
        lookup.keys[index]!,
        caching ? missKeys[task]! : '',
        call,
        projections?.[slot],
      );
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
