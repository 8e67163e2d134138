import type { KeyEntry, KeyRecord, KeyRef } from "../domain/entities";

/** Server time, but always after the previous record even if the clock stood still or stepped back. */
export function nextCreateDate(now: number, last: KeyRecord | undefined): number {
  return last === undefined ? now : Math.max(now, last.createDate + 1);
}

export function toRecord(ref: KeyRef, seq: number, createDate: number, entry: KeyEntry): KeyRecord {
  return {
    userId: ref.userId,
    instanceId: ref.instanceId,
    contextId: ref.contextId,
    seq,
    createDate,
    ...(entry.userPubKey === undefined ? {} : { userPubKey: entry.userPubKey }),
    ...(entry.customData === undefined ? {} : { customData: entry.customData }),
  };
}

/**
 * One string per history: each of the first two parts is prefixed by its
 * length, which keeps the three apart whatever characters they hold (and
 * costs far less than JSON on a lookup path).
 */
export function historyKey(ref: KeyRef): string {
  return `${ref.userId.length}:${ref.userId}${ref.instanceId.length}:${ref.instanceId}${ref.contextId}`;
}

/**
 * How long a replica keeps retrying races lost to other replicas without
 * writing anything. Every round has a winner, so it loses at most as many
 * rounds as other replicas write batches meanwhile; the budget (under the
 * callers' 10 s gRPC deadline) is a safety net, not a limit contention reaches.
 */
export const APPEND_RETRY_BUDGET_MS = 8000;

/**
 * Appends one replica queues on one history. Past this many, refusing them at
 * once (as too many requests) sheds the load rather than letting the last
 * wait beyond the callers' 10 s deadline.
 */
export const MAX_PENDING_APPENDS = 1000;

/** Most records one insert writes to a history. */
export const MAX_APPEND_BATCH = 100;
