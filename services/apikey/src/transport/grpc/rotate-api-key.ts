import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { rotateApiKey } from "../../domain/rotate-api-key";

export function rotateApiKeyHandler(deps: ApiKeyDeps) {
  return (req: apikeyV1.RotateApiKeyRequest, callerScope: readonly string[]): Promise<apikeyV1.RotateApiKeyResponse> =>
    rotateApiKey(deps, {
      apiKeyId: req.apiKeyId,
      clientSecret: req.clientSecret,
      clientPublicKey: req.clientPublicKey,
      gracePeriod: req.gracePeriod,
      callerScope,
    });
}
