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
 * How long one append keeps retrying lost races. Every round has a winner, so
 * n writers racing on one history finish within n rounds; a time budget (under
 * the callers' 10 s gRPC deadline) scales with contention where a fixed count
 * would fail the last writers of a large burst.
 */
export const APPEND_RETRY_BUDGET_MS = 8000;
