import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryEventBus } from "./bus";
import { bindToCall } from "./call";
import { type CallBindable, CallHeaders, type CallIdentity } from "./call-identity";
import { AppError } from "./errors";
import { Events, publishEvent } from "./events";
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

  it("binds the named event publishers to the call, so their events name its request and caller", async () => {
    const bus = new MemoryEventBus();
    const seen: Record<string, string>[] = [];
    await bus.subscribe({
      subjects: [">"],
      deliver: "new",
      handler: async (msg) => {
        seen.push({ ...msg.headers });
      },
    });
    class Publisher implements CallBindable<Publisher> {
      constructor(readonly identity?: CallIdentity) {}
      forCall(identity: CallIdentity) {
        return new Publisher(identity);
      }
      changed() {
        return publishEvent(bus, Events.apiKeyDeleted, { apiKeyId: "k", at: 1 }, undefined, this.identity);
      }
    }
    const shared = new Publisher();
    const forCall = bindToCall({ events: shared, plain: { changed: () => undefined } }, { events: ["events"] });
    await forCall({ ...call({ requestId: "req-7" }), callerKeyId: "key-9" }).events.changed();
    await shared.changed();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [{ [CallHeaders.requestId]: "req-7", [CallHeaders.callerKeyId]: "key-9" }, {}]);
    await bus.close();
  });
});
