import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { updateApiKey } from "../../domain/update-api-key";
import { fromProtoRateLimits, toProtoApiKey } from "./codec";

export function updateApiKeyHandler(deps: ApiKeyDeps) {
  return async (
    req: apikeyV1.UpdateApiKeyRequest,
    callerScope: readonly string[],
  ): Promise<apikeyV1.UpdateApiKeyResponse> => ({
    apiKey: toProtoApiKey(
      await updateApiKey(deps, {
        apiKeyId: req.apiKeyId,
        name: req.name,
        enabled: req.enabled,
        maxScope: req.maxScope?.scopes,
        callerScope,
        rateLimits: fromProtoRateLimits(req.rateLimits),
      }),
    ),
  });
}
