import type { apikeyV1 } from "@pkiserver/proto";
import { addApiKey } from "../../domain/add-api-key";
import type { ApiKeyDeps } from "../../domain/ports";
import { fromProtoRateLimits, fromProtoType } from "./codec";

export function addApiKeyHandler(deps: ApiKeyDeps) {
  return (req: apikeyV1.AddApiKeyRequest, callerScope: readonly string[]): Promise<apikeyV1.AddApiKeyResponse> =>
    addApiKey(deps, {
      name: req.name,
      type: fromProtoType(req.type),
      clientSecret: req.clientSecret,
      clientPublicKey: req.clientPublicKey,
      maxScope: req.maxScope,
      callerScope,
      rateLimits: fromProtoRateLimits(req.rateLimits),
    });
}
