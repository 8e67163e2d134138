import { AppError, expandScope, normaliseScopes } from "@pkiserver/kit/core";
import type { ApiKeyRecord } from "./entities";
import { findApiKey } from "./get-api-key";
import type { ApiKeyDeps, ApiKeyGuard } from "./ports";

/**
 * The privilege rule of API.md section 6: a caller may manage a key only when
 * it holds every scope of that key's maxScope. A scope this version cannot
 * read counts as not held, so the rule fails closed.
 */
export function mayManage(callerScope: readonly string[], key: ApiKeyRecord): boolean {
  const held = new Set<string>(normaliseScopes(callerScope));
  return key.maxScope.every((s) => expandScope(s)?.every((x) => held.has(x)) ?? false);
}

/**
 * A check of the target's maxScope and the write after it could see two
 * different keys; with a concurrent widening in between the check would pass
 * for a key it should refuse. The write is therefore conditional on the
 * maxScope that was checked, and a miss is decided again from a fresh read.
 * Only writes that keep changing the target's maxScope can exhaust the rounds.
 */
const MANAGE_ROUNDS = 5;

/**
 * Runs `write` on the key once the caller may manage it: `apikey.not_found`
 * for no such key, `auth.insufficient_scope` when the caller may not. `write`
 * answers undefined when its guard no longer held.
 */
export async function manageApiKey<T>(
  deps: Pick<ApiKeyDeps, "store">,
  apiKeyId: string,
  callerScope: readonly string[],
  write: (current: ApiKeyRecord, guard: ApiKeyGuard) => Promise<T | undefined>,
): Promise<T> {
  for (let round = 0; round < MANAGE_ROUNDS; round++) {
    const current = await findApiKey(deps, apiKeyId);
    if (!mayManage(callerScope, current)) throw new AppError("auth.insufficient_scope");
    const done = await write(current, { maxScope: current.maxScope });
    if (done !== undefined) return done;
  }
  throw new AppError("rpc.internal", {
    internal: `api key ${apiKeyId}: maxScope kept changing during a guarded write`,
  });
}
