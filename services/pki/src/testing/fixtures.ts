import assert from "node:assert/strict";
import { randomPubKey } from "@pkiserver/contract";
import { AppError, type ErrorCode } from "@pkiserver/kit";
import type { Host, KeyRecord, KeyRef } from "../domain/entities";
import type { PkiDeps, PkiEvents } from "../domain/ports";
import { createMemoryStores } from "../storage/stores";

export type RecordedEvent =
  | { type: "hostRegistered" | "hostChanged" | "hostDeleted"; host: Host; at: number }
  | { type: "userKeySet" | "userKeyDeleted"; record: KeyRecord };

/** Use-case dependencies on memory stores, with a clock the test moves and the events kept. */
export function testDeps(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  const events: RecordedEvent[] = [];
  const recorder: PkiEvents = {
    hostRegistered: async (host, at) => void events.push({ type: "hostRegistered", host, at }),
    hostChanged: async (host, at) => void events.push({ type: "hostChanged", host, at }),
    hostDeleted: async (host, at) => void events.push({ type: "hostDeleted", host, at }),
    userKeySet: async (record) => void events.push({ type: "userKeySet", record }),
    userKeyDeleted: async (record) => void events.push({ type: "userKeyDeleted", record }),
  };
  const deps: PkiDeps = { ...createMemoryStores(), events: recorder, clock };
  return { deps, clock, events };
}

/** For assert.rejects: the error is the AppError with this code. */
export const hasCode = (code: ErrorCode) => (err: unknown) => {
  assert.ok(err instanceof AppError, `expected AppError ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

/** For assert.rejects: an invalid-params AppError whose data names `field`. */
export const invalidField = (field: string) => (err: unknown) => {
  hasCode("rpc.invalid_params")(err);
  assert.match(String((err as AppError).data), new RegExp(`^${field} -> `));
  return true;
};

export const newRef = (): KeyRef => ({
  userId: "user1",
  instanceId: randomPubKey(),
  contextId: "32fcd0b5-ceb5-44a7-9990-0d999b9718e6",
});
