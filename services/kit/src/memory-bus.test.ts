import { MemoryEventBus } from "./bus";
import { busContract } from "./bus-contract";

busContract(
  "MemoryEventBus",
  async () => {
    const bus = new MemoryEventBus(24 * 3600_000, 50);
    return { bus, cleanup: () => bus.close() };
  },
  { settleMs: 100, deliveryTimeoutMs: 3000 },
);
