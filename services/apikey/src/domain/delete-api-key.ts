import { manageApiKey } from "./manage-api-key";
import type { ApiKeyDeps } from "./ports";

export interface DeleteApiKeyInput {
  apiKeyId: string;
  /** Scopes the caller holds: it must hold every scope of the key. */
  callerScope: readonly string[];
}

export async function deleteApiKey(deps: ApiKeyDeps, input: DeleteApiKeyInput): Promise<void> {
  await manageApiKey(deps, input.apiKeyId, input.callerScope, async (_current, guard) =>
    (await deps.store.delete(input.apiKeyId, guard)) ? true : undefined,
  );
  await deps.events.deleted(input.apiKeyId, deps.clock.now());
}
