import { AppError } from "@pkiserver/kit/core";
import type { KeyRecord, KeyRef } from "./entities";
import type { PkiDeps } from "./ports";
import { checkRef } from "./validation";

/** The newest record, which is a deletion record (no key) after a delete. */
export async function getCurrentKey(deps: PkiDeps, input: { ref: KeyRef }): Promise<KeyRecord> {
  const record = await deps.keys.latest(checkRef(input.ref));
  if (!record) throw new AppError("pki.no_key");
  return record;
}
