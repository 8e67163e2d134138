import { AppError } from "@pkiserver/kit/core";
import type { KeyRecord, KeyRef } from "./entities";
import type { PkiDeps } from "./ports";
import { checkRef } from "./validation";

/** Appends a deletion record; refused when there is no current key. */
export async function deleteKey(deps: PkiDeps, input: { ref: KeyRef }): Promise<KeyRecord> {
  const ref = checkRef(input.ref);
  const record = await deps.keys.append(
    ref,
    (last) => {
      if (last?.userPubKey === undefined) throw new AppError("pki.no_key");
      return {};
    },
    deps.clock,
  );
  await deps.events.userKeyDeleted(record);
  return record;
}
