import type { apikeyV1 } from "@pkiserver/proto";
import { createFirstApiKey } from "../../domain/create-first-api-key";
import type { ApiKeyDeps } from "../../domain/ports";

export function createFirstApiKeyHandler(deps: ApiKeyDeps) {
  return (req: apikeyV1.CreateFirstApiKeyRequest): Promise<apikeyV1.CreateFirstApiKeyResponse> =>
    createFirstApiKey(deps, { initializationToken: req.initializationToken, name: req.name });
}
