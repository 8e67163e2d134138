import type { Host } from "./entities";
import type { PkiDeps } from "./ports";
import { checkPubKey } from "./validation";

/** Removes the host; its users' key histories stay, as they are history. */
export async function deleteHost(deps: PkiDeps, input: { instanceId: string }): Promise<Host> {
  const instanceId = checkPubKey("instanceId", input.instanceId);
  const host = await deps.hosts.delete(instanceId);
  await deps.events.hostDeleted(host, deps.clock.now());
  return host;
}
