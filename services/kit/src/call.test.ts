import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bindToCall, perCall } from "./call";
import { AppError } from "./errors";
import type { CallContext } from "./grpc";

function call(over: Partial<{ cancelled: boolean; requestId: string }> = {}): CallContext {
  return { requestId: "r1", callerKeyId: undefined, deadline: Infinity, cancelled: false, ...over } as CallContext;
}

describe("bindToCall and perCall", () => {
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

  it("runs each factory on the deps bound to the call it serves", async () => {
    const seen: string[] = [];
    const handlers = perCall((ctx: CallContext) => ({ ...deps, requestId: ctx.requestId }), {
      echo: (d: typeof deps & { requestId: string }) => async (req: { n: number }) => {
        seen.push(d.requestId);
        return req.n * d.limit;
      },
    });
    assert.equal(await handlers.echo({ n: 2 }, call({ requestId: "a" })), 6);
    assert.equal(await handlers.echo({ n: 5 }, call({ requestId: "b" })), 15);
    assert.deepEqual(seen, ["a", "b"]);
  });
});
