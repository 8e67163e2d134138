import { randomPubKey } from "@pkiserver/contract";
import type { Clock } from "../domain/ports";
import type { TransparencyLog } from "../domain/transparency";
import type { PkiStores } from "./stores";

/**
 * Bench only (PMX_TEST_LOG_FILL): a large log without a million API requests. Never set outside
 * the bench. The records go through the same stores and log as setKey's (the use case's checks
 * aside), so the log, its head map and the histories are what as many setKey calls would leave.
 */

/** The address of the host whose users' histories the fill writes. */
export const FILL_HOST_URL = "https://log-fill.bench.invalid";
export const FILL_CONTEXT_ID = "log-fill";
/** Records per history: `n` records go to ceil(n / 100) histories, one record each in turn. */
export const FILL_RECORDS_PER_HISTORY = 100;
/** The user of the fill's history `h`. */
export const fillUserId = (h: number): string => `log-fill-${h}`;

/** Histories written concurrently (each by one writer, in order): MongoDB's round trips overlap. */
const WRITERS = 32;
/**
 * Records handed to the log between two of its sequencing rounds (plus one round of the fill):
 * each round hashes every changed history's head-map leaf up from depth 256, some 250 hashes, so
 * rounds of many records per history keep a fill of a million records to seconds.
 */
const ROUND = 250_000;

/**
 * Registers a host and appends `n` key records over ceil(n / 100) of its users' histories,
 * round by round (every history's first record, then every history's second, ...), then
 * sequences until the log has integrated them all and signed a checkpoint of them.
 */
export async function fillLog(stores: PkiStores, log: TransparencyLog, n: number, clock: Clock): Promise<void> {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError("the fill needs a positive number of records");
  const host = await stores.hosts.create(randomPubKey(), FILL_HOST_URL);
  const histories = Math.ceil(n / FILL_RECORDS_PER_HISTORY);
  // Each history's successive records alternate over the pool: no record repeats its predecessor's key.
  const pool = Array.from({ length: 8 }, () => randomPubKey());
  const writers = Math.min(WRITERS, histories);
  let sequenced = 0;
  for (let round = 0; round * histories < n; round++) {
    const userPubKey = pool[round % pool.length]!;
    const first = round * histories;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let h = w; h < histories && first + h < n; h += writers) {
          const ref = { userId: fillUserId(h), instanceId: host.instanceId, contextId: FILL_CONTEXT_ID };
          await stores.keys.append(ref, () => ({ userPubKey }), clock);
        }
      }),
    );
    // Between rounds, never during one: the log's pending list stays short.
    if (first + histories - sequenced >= ROUND) {
      await log.sequence();
      sequenced = first + histories;
    }
  }
  while ((await log.sequence()) !== undefined) {}
}
