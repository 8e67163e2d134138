import { assertScopesWithin, invalidParams, normaliseEd25519PublicKey, parseScopes } from "@pkiserver/kit/core";
import { type ApiKeyRecord, type ApiKeyType, MAX_API_KEYS, newApiKeyId } from "./entities";
import type { ApiKeyDeps } from "./ports";
import { checkClientSecret, checkMaxScope, checkName, checkRateLimits } from "./validation";

/** A PEM is a few hundred characters; this only bounds the parsing work. */
export const PUBLIC_KEY_MAX_LENGTH = 4096;

export interface AddApiKeyInput {
  name: string;
  type: ApiKeyType | undefined;
  clientSecret?: string | undefined;
  clientPublicKey?: string | undefined;
  maxScope: readonly string[];
  /** Scopes the caller holds; the new key may not exceed them. */
  callerScope: readonly string[];
  /** The key's own requests-per-minute limits by tier. */
  rateLimits?: Readonly<Record<string, number | undefined>> | undefined;
}

export async function addApiKey(deps: ApiKeyDeps, input: AddApiKeyInput): Promise<{ apiKeyId: string }> {
  checkName(input.name);
  checkMaxScope(input.maxScope);
  const rateLimits = input.rateLimits === undefined ? undefined : checkRateLimits(input.rateLimits);
  const id = newApiKeyId();
  let credential: Pick<ApiKeyRecord, "sealedSecret" | "clientPublicKey">;
  if (input.type === "secret") {
    if (input.clientPublicKey !== undefined) throw invalidParams("Unexpected key 'clientPubKey'");
    if (input.clientSecret === undefined) throw invalidParams("Key 'clientSecret' is required");
    checkClientSecret(input.clientSecret);
    credential = { sealedSecret: deps.secrets.seal(input.clientSecret, id) };
  } else if (input.type === "pubKey") {
    if (input.clientSecret !== undefined) throw invalidParams("Unexpected key 'clientSecret'");
    if (input.clientPublicKey === undefined) throw invalidParams("Key 'clientPubKey' is required");
    const pem =
      input.clientPublicKey.length <= PUBLIC_KEY_MAX_LENGTH
        ? normaliseEd25519PublicKey(input.clientPublicKey)
        : undefined;
    if (pem === undefined) throw invalidParams("clientPubKey -> Expected an Ed25519 public key in SPKI PEM");
    credential = { clientPublicKey: pem };
  } else {
    throw invalidParams("type -> Expected 'secret' or 'pubKey'");
  }
  const { scopes } = parseScopes(input.maxScope, "maxScope", false);
  assertScopesWithin(scopes, input.callerScope);
  const now = deps.clock.now();
  const record: ApiKeyRecord = {
    id,
    name: input.name,
    enabled: true,
    maxScope: scopes,
    type: input.type,
    ...credential,
    createDate: now,
    ...(rateLimits === undefined ? {} : { rateLimits }),
  };
  await deps.store.insert(record, MAX_API_KEYS);
  await deps.events.created(record, now);
  return { apiKeyId: id };
}
