import { AppError } from "@pkiserver/kit/core";
import { type ApiKeyRecord, isPlausibleApiKeyId } from "./entities";
import type { ApiKeyDeps, AuthAttempt, RefusalReason } from "./ports";

const KEY_ID_MAX_LENGTH = 128;

/**
 * Reports a refused credential with its verdict and returns the error the
 * caller gets: the same for every verdict but an unknown key (as before), so
 * the client learns only that the credential did not hold.
 */
export function refuseCredential(
  deps: Pick<ApiKeyDeps, "events">,
  reason: RefusalReason,
  apiKeyId: string,
  attempt: AuthAttempt | undefined,
  at: number,
): AppError {
  deps.events.credentialRefused({
    method: attempt?.method ?? "",
    clientIp: attempt?.clientIp,
    requestId: attempt?.requestId,
    reason,
    apiKeyId: apiKeyId.slice(0, KEY_ID_MAX_LENGTH),
    at,
  });
  return new AppError(reason === "unknown_key" ? "apikey.not_found" : "auth.invalid_credentials");
}

/** The key a credential names; an unknown one is refused (`apikey.not_found`) and reported as `unknown_key`. */
export async function keyNamedBy(
  deps: Pick<ApiKeyDeps, "store" | "events" | "clock">,
  apiKeyId: string,
  attempt: AuthAttempt | undefined,
): Promise<ApiKeyRecord> {
  const record = isPlausibleApiKeyId(apiKeyId) ? await deps.store.get(apiKeyId) : undefined;
  if (!record) throw refuseCredential(deps, "unknown_key", apiKeyId, attempt, deps.clock.now());
  return record;
}
