import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bindToCall } from "./call";
import { AppError } from "./errors";
import type { CallContext } from "./grpc";

function call(over: Partial<{ cancelled: boolean; requestId: string }> = {}): CallContext {
  return { requestId: "r1", callerKeyId: undefined, deadline: Infinity, cancelled: false, ...over } as CallContext;
}

describe("bindToCall", () => {
  const store = { read: async () => "stored" };
  const other = { read: async () => "other" };
  const deps = { store, other, limit: 3 };

  it("binds the named stores to each call and leaves the rest as they are", async () => {
    const forCall = bindToCall(deps, { stores: ["store"] });
    const live = forCall(call());
    assert.equal(await live.store.read(), "stored");
    assert.equal(live.other, other);
    assert.equal(live.limit, 3);

    const gone = forCall(call({ cancelled: true }));
    assert.throws(
      () => gone.store.read(),
      (err) => err instanceof AppError && err.code === "rpc.unavailable",
    );
    assert.equal(await gone.other.read(), "other");
    assert.equal(deps.store, store, "the shared deps are not changed");
  });
});
