import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { verifySignature } from "../../domain/verify-signature";
import { toProtoApiKey } from "./codec";
import { attemptOf } from "./verify-secret";

export function verifySignatureHandler(deps: ApiKeyDeps) {
  return async (req: apikeyV1.VerifySignatureRequest, requestId = ""): Promise<apikeyV1.VerifySignatureResponse> => {
    const verified = await verifySignature(deps, {
      apiKeyId: req.apiKeyId,
      timestamp: req.timestamp,
      nonce: req.nonce,
      payload: req.payload,
      signature: req.signature,
      attempt: attemptOf(req.attempt, requestId),
    });
    return { apiKey: toProtoApiKey(verified), credentialGeneration: verified.matchedGeneration };
  };
}
