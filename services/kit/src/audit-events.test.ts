import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { eventsV1 } from "@pkiserver/proto";
import { authFailureReason, RateLimitRefusals } from "./audit-events";
import { AppError } from "./errors";

describe("rate-limit refusals for the audit log", () => {
  it("publishes one event per client, tier and finished minute, with the count", async () => {
    let now = 120_000 + 5_000;
    const sent: eventsV1.RateLimitRefused[] = [];
    const r = new RateLimitRefusals(
      async (e) => void sent.push(e),
      () => now,
    );
    r.refused("key:k1", "pki");
    r.refused("key:k1", "pki");
    r.refused("key:k1", "user");
    await r.flush();
    assert.deepEqual(sent, [], "the current minute is still counting");
    now = 180_000 + 1;
    r.refused("key:k1", "pki");
    await r.flush();
    assert.deepEqual(sent, [
      { client: "key:k1", tier: "pki", minute: 120_000, count: 2 },
      { client: "key:k1", tier: "user", minute: 120_000, count: 1 },
    ]);
    await r.stop();
    assert.deepEqual(sent[2], { client: "key:k1", tier: "pki", minute: 180_000, count: 1 });
  });

  it("stays bounded: past the limit, new clients share one counter", async () => {
    const sent: eventsV1.RateLimitRefused[] = [];
    const r = new RateLimitRefusals(
      async (e) => void sent.push(e),
      () => 0,
      2,
    );
    for (const c of ["ip:a", "ip:b", "ip:c", "ip:d"]) r.refused(c, "auth");
    await r.flush(true);
    assert.deepEqual(
      sent.map((e) => [e.client, e.count]),
      [
        ["ip:a", 1],
        ["ip:b", 1],
        ["(others)", 2],
      ],
    );
  });
});

describe("reasons of refused credentials", () => {
  it("tells an unknown key from a wrong secret or signature, and reports no outage as a failure", () => {
    assert.equal(authFailureReason(new AppError("apikey.not_found"), "secret"), "unknown_key");
    assert.equal(authFailureReason(new AppError("auth.invalid_credentials"), "secret"), "wrong_secret");
    assert.equal(authFailureReason(new AppError("auth.invalid_credentials"), "signature"), "bad_signature");
    assert.equal(authFailureReason(new AppError("auth.token_expired"), "token"), "bad_token");
    assert.equal(authFailureReason(new AppError("rpc.unavailable"), "secret"), undefined);
    assert.equal(authFailureReason(new Error("boom"), "secret"), undefined);
  });
});
