import { assertScopesWithin, parseScopes } from "@pkiserver/kit/core";
import { type ApiKeyView, toView } from "./entities";
import { manageApiKey } from "./manage-api-key";
import type { ApiKeyDeps, ApiKeyPatch } from "./ports";
import { checkMaxScope, checkName, checkRateLimits } from "./validation";

export interface UpdateApiKeyInput {
  apiKeyId: string;
  name?: string | undefined;
  enabled?: boolean | undefined;
  /** Absent leaves the scope as it is; an empty list empties it. */
  maxScope?: readonly string[] | undefined;
  /** Scopes the caller holds: it must hold every scope of the key, and a new maxScope may not exceed them. */
  callerScope: readonly string[];
  /** Replaces the key's own rate limits; an empty object clears them. */
  rateLimits?: Readonly<Record<string, number | undefined>> | undefined;
}

export async function updateApiKey(deps: ApiKeyDeps, input: UpdateApiKeyInput): Promise<ApiKeyView> {
  const patch: ApiKeyPatch = {};
  if (input.name !== undefined) {
    checkName(input.name);
    patch.name = input.name;
  }
  if (input.enabled !== undefined) patch.enabled = input.enabled;
  if (input.maxScope !== undefined) {
    checkMaxScope(input.maxScope);
    const { scopes } = parseScopes(input.maxScope, "maxScope", false);
    assertScopesWithin(scopes, input.callerScope);
    patch.maxScope = scopes;
  }
  if (input.rateLimits !== undefined) patch.rateLimits = checkRateLimits(input.rateLimits) ?? null;
  if (Object.keys(patch).length === 0) {
    return toView(
      await manageApiKey(deps, input.apiKeyId, input.callerScope, async (current) => current),
      deps.clock.now(),
    );
  }
  const changed = await manageApiKey(deps, input.apiKeyId, input.callerScope, (_current, guard) =>
    deps.store.update(input.apiKeyId, patch, guard),
  );
  await deps.events.updated(changed.before, changed.after, deps.clock.now());
  return toView(changed.after, deps.clock.now());
}
