import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { verifySecret } from "../../domain/verify-secret";
import { toProtoApiKey } from "./codec";

export function verifySecretHandler(deps: ApiKeyDeps) {
  return async (req: apikeyV1.VerifySecretRequest): Promise<apikeyV1.VerifySecretResponse> => {
    const verified = await verifySecret(deps, { apiKeyId: req.apiKeyId, secret: req.secret });
    return { apiKey: toProtoApiKey(verified), credentialGeneration: verified.matchedGeneration };
  };
}
