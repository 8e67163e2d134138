import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyType, ApiKeyView } from "../../domain/api-key";

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
  };
}

/** Undefined for UNSPECIFIED and unknown values; the use case reports it as an invalid `type`. */
export function fromProtoType(t: apikeyV1.ApiKeyType): ApiKeyType | undefined {
  if (t === apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET) return "secret";
  if (t === apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY) return "pubKey";
  return undefined;
}
