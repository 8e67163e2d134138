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

/** Bound on lost races per append; beyond it the history is too contended to be worth waiting on. */
export const MAX_APPEND_ATTEMPTS = 64;
