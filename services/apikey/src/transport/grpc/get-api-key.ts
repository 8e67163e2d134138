import type { apikeyV1 } from "@pkiserver/proto";
import { getApiKey } from "../../domain/get-api-key";
import type { ApiKeyDeps } from "../../domain/ports";
import { toProtoApiKey } from "./codec";

export function getApiKeyHandler(deps: ApiKeyDeps) {
  return async (req: apikeyV1.GetApiKeyRequest): Promise<apikeyV1.GetApiKeyResponse> => ({
    apiKey: toProtoApiKey(await getApiKey(deps, req.apiKeyId)),
  });
}
