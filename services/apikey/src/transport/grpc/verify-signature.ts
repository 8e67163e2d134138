import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { verifySignature } from "../../domain/verify-signature";
import { toProtoApiKey } from "./codec";

export function verifySignatureHandler(deps: ApiKeyDeps) {
  return async (req: apikeyV1.VerifySignatureRequest): Promise<apikeyV1.VerifySignatureResponse> => {
    const verified = await verifySignature(deps, {
      apiKeyId: req.apiKeyId,
      timestamp: req.timestamp,
      nonce: req.nonce,
      payload: req.payload,
      signature: req.signature,
    });
    return { apiKey: toProtoApiKey(verified), credentialGeneration: verified.matchedGeneration };
  };
}
