import { AppError } from "@pkiserver/kit/core";
import type { KeyRecord, KeyRef } from "./entities";
import type { PkiDeps } from "./ports";
import { checkDate, checkRef } from "./validation";

/** The record in force at `date`: the newest with createDate <= date. */
export async function getKeyAt(deps: PkiDeps, input: { ref: KeyRef; date: number }): Promise<KeyRecord> {
  const record = await deps.keys.at(checkRef(input.ref), checkDate(input.date));
  if (!record) throw new AppError("pki.no_key_at_time");
  return record;
}
