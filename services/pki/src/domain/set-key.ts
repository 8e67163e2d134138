import { AppError } from "@pkiserver/kit/core";
import type { KeyRecord, KeyRef } from "./entities";
import type { PkiDeps } from "./ports";
import { checkCustomData, checkPubKey, checkRef } from "./validation";

/**
 * Appends a key to the history. Refused when it is the current key; a key
 * used earlier may come back. The instance need not be a registered host.
 */
export async function setKey(
  deps: PkiDeps,
  input: { ref: KeyRef; userPubKey: string; customData?: string | undefined },
): Promise<KeyRecord> {
  const ref = checkRef(input.ref);
  const userPubKey = checkPubKey("userPubKey", input.userPubKey);
  const customData = input.customData === undefined ? undefined : checkCustomData(input.customData);
  const record = await deps.keys.append(
    ref,
    (last) => {
      if (last?.userPubKey === userPubKey) throw new AppError("pki.key_already_exists");
      return customData === undefined ? { userPubKey } : { userPubKey, customData };
    },
    deps.clock,
  );
  await deps.events.userKeySet(record);
  return record;
}
