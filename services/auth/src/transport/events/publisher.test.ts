import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BusMessage, createLogger, decodeEvent, Events, MemoryEventBus } from "@pkiserver/kit";
import type { Session } from "../../domain/entities";
import { BusAuthEvents } from "./publisher";

const T0 = 1_750_000_000_000;

function session(over: Partial<Session> = {}): Session {
  return {
    id: "s".repeat(22),
    apiKeyId: "key-one",
    familyId: "s".repeat(22),
    scope: ["pki:read"],
    accessLifetime: 900_000,
    createdAt: T0,
    expiresAt: T0 + 604_800_000,
    generation: 0,
    refreshHash: "h",
    ...over,
  };
}

describe("BusAuthEvents", () => {
  it("tells, with each rotation and revocation, when the session's last access token expires", async () => {
    const bus = new MemoryEventBus();
    const events = new BusAuthEvents(bus, createLogger({ name: "test", level: "silent" }));
    await events.sessionRotated(session({ generation: 3, rotatedAt: T0 + 5000 }), T0 + 5000);
    await events.sessionRevoked(session({ revokedAt: T0 + 7000 }), "session_limit", T0 + 7000);
    const got: BusMessage[] = [];
    await bus.subscribe({ subjects: ["auth.v1.>"], deliver: "all", handler: async (m) => void got.push(m) });
    await new Promise((r) => setImmediate(r));
    const rotated = decodeEvent(Events.sessionRotated, got[0] as BusMessage);
    assert.equal(rotated?.generation, 3);
    assert.equal(rotated?.tokensExpireAt, T0 + 5000 + 900_000);
    const revoked = decodeEvent(Events.sessionRevoked, got[1] as BusMessage);
    assert.equal(revoked?.reason, "session_limit");
    assert.equal(revoked?.tokensExpireAt, T0 + 900_000, "issued last when it opened");
    assert.equal(revoked?.sessionCreatedAt, T0, "its place against its key's cap mark");
    await bus.close();
  });
});
