import { AppError } from "@pkiserver/kit/core";
import { type ApiKeyRecord, type ApiKeyView, isPlausibleApiKeyId, toView } from "./entities";
import type { ApiKeyDeps } from "./ports";

/** The stored key, or `apikey.not_found`. */
export async function findApiKey(deps: Pick<ApiKeyDeps, "store">, apiKeyId: string): Promise<ApiKeyRecord> {
  const record = isPlausibleApiKeyId(apiKeyId) ? await deps.store.get(apiKeyId) : undefined;
  if (!record) throw new AppError("apikey.not_found");
  return record;
}

export async function getApiKey(deps: ApiKeyDeps, apiKeyId: string): Promise<ApiKeyView> {
  return toView(await findApiKey(deps, apiKeyId), deps.clock.now());
}
