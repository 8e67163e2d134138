import { ALL_SCOPES, AppError, constantTimeEqual } from "@pkiserver/kit/core";
import { type ApiKeyRecord, newApiKeyId, newApiKeySecret } from "./entities";
import type { ApiKeyDeps } from "./ports";
import { checkName } from "./validation";

const TOKEN_MAX_LENGTH = 1024;

export interface CreateFirstApiKeyInput {
  initializationToken: string;
  name: string;
}

/**
 * The installation path: a key with every scope, allowed only while no key
 * exists and only to whoever knows PMX_INITIALIZATION_TOKEN. The token is
 * checked before existence so that without it nothing is learnt.
 */
export async function createFirstApiKey(
  deps: ApiKeyDeps,
  input: CreateFirstApiKeyInput,
): Promise<{ apiKeyId: string; apiKeySecret: string }> {
  checkName(input.name);
  const expected = deps.initializationToken;
  const given = input.initializationToken;
  if (!expected || given.length > TOKEN_MAX_LENGTH || !constantTimeEqual(given, expected)) {
    throw new AppError("apikey.initialization_token_invalid");
  }
  const id = newApiKeyId();
  const secret = newApiKeySecret();
  const now = deps.clock.now();
  const record: ApiKeyRecord = {
    id,
    name: input.name,
    enabled: true,
    maxScope: [...ALL_SCOPES],
    type: "secret",
    sealedSecret: deps.secrets.seal(secret, id),
    createDate: now,
  };
  await deps.store.insertFirst(record);
  await deps.events.created(record, now, true);
  return { apiKeyId: id, apiKeySecret: secret };
}
