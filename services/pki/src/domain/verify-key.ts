import type { KeyRef } from "./entities";
import { getKeyAt } from "./get-key-at";
import type { PkiDeps } from "./ports";
import { checkPubKey } from "./validation";

/** Whether the record in force at `date` carries this key. */
export async function verifyKey(
  deps: PkiDeps,
  input: { ref: KeyRef; userPubKey: string; date: number },
): Promise<boolean> {
  const userPubKey = checkPubKey("userPubKey", input.userPubKey);
  const record = await getKeyAt(deps, { ref: input.ref, date: input.date });
  return record.userPubKey === userPubKey;
}
