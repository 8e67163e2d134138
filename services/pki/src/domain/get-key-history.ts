import type { KeyRecord, KeyRef } from "./entities";
import type { PkiDeps } from "./ports";
import { checkRef } from "./validation";

/** Every record, newest first; empty when the history is. */
export function getKeyHistory(deps: PkiDeps, input: { ref: KeyRef }): Promise<KeyRecord[]> {
  return deps.keys.history(checkRef(input.ref));
}
