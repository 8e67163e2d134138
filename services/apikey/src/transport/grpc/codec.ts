import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyType, ApiKeyView, KeyRateLimits } from "../../domain/entities";

export function toProtoApiKey(v: ApiKeyView): apikeyV1.ApiKey {
  return {
    apiKeyId: v.apiKeyId,
    name: v.name,
    enabled: v.enabled,
    maxScope: [...v.maxScope],
    type: v.type === "secret" ? apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET : apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY,
    clientPublicKey: v.clientPublicKey,
    createDate: v.createDate,
    previousCredentialExpiresAt: v.previousCredentialExpiresAt,
    credentialGeneration: v.credentialGeneration ?? 0,
    rateLimits: v.rateLimits === undefined ? undefined : { ...v.rateLimits },
  };
}

/** The tiers a request sets; undefined when the message is absent. */
export function fromProtoRateLimits(r: apikeyV1.RateLimits | undefined): KeyRateLimits | undefined {
  if (r === undefined) return undefined;
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as KeyRateLimits;
}

/** Undefined for UNSPECIFIED and unknown values; the use case reports it as an invalid `type`. */
export function fromProtoType(t: apikeyV1.ApiKeyType): ApiKeyType | undefined {
  if (t === apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET) return "secret";
  if (t === apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY) return "pubKey";
  return undefined;
}
