import type { EventBus, EventDef } from "@pkiserver/kit";

/**
 * What `keep` takes of each `event` on `bus` (those retained, then each one
 * published later), in the order they arrive: the array fills as they do.
 */
export async function recordEvents<T, R>(bus: EventBus, event: EventDef<T>, keep: (e: T) => R): Promise<R[]> {
  const kept: R[] = [];
  await bus.subscribe({
    subjects: [event.subject],
    deliver: "all",
    handler: async (msg) => {
      kept.push(keep(event.type.decode(msg.data)));
    },
  });
  return kept;
}
