import { AppError } from "@pkiserver/kit/core";
import { isPlausibleApiKeyId } from "./api-key";
import type { ApiKeyDeps } from "./ports";

export async function deleteApiKey(deps: ApiKeyDeps, apiKeyId: string): Promise<void> {
  if (!isPlausibleApiKeyId(apiKeyId) || !(await deps.store.delete(apiKeyId))) throw new AppError("apikey.not_found");
  await deps.events.deleted(apiKeyId, deps.clock.now());
}
