import type { apikeyV1 } from "@pkiserver/proto";
import { deleteApiKey } from "../../domain/delete-api-key";
import type { ApiKeyDeps } from "../../domain/ports";

export function deleteApiKeyHandler(deps: ApiKeyDeps) {
  return async (
    req: apikeyV1.DeleteApiKeyRequest,
    callerScope: readonly string[],
  ): Promise<apikeyV1.DeleteApiKeyResponse> => {
    await deleteApiKey(deps, { apiKeyId: req.apiKeyId, callerScope });
    return {};
  };
}
