import type { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps, AuthAttempt } from "../../domain/ports";
import { verifySecret } from "../../domain/verify-secret";
import { toProtoApiKey } from "./codec";

const METHOD_MAX_LENGTH = 32;
const CLIENT_IP_MAX_LENGTH = 64;

/** The attempt a verify request describes (bounded), with the request id it came under. */
export function attemptOf(attempt: apikeyV1.AuthAttempt | undefined, requestId: string): AuthAttempt {
  return {
    method: (attempt?.method ?? "").slice(0, METHOD_MAX_LENGTH),
    ...(attempt?.clientIp !== undefined ? { clientIp: attempt.clientIp.slice(0, CLIENT_IP_MAX_LENGTH) } : {}),
    ...(requestId !== "" ? { requestId } : {}),
  };
}

export function verifySecretHandler(deps: ApiKeyDeps) {
  return async (req: apikeyV1.VerifySecretRequest, requestId = ""): Promise<apikeyV1.VerifySecretResponse> => {
    const verified = await verifySecret(deps, {
      apiKeyId: req.apiKeyId,
      secret: req.secret,
      attempt: attemptOf(req.attempt, requestId),
    });
    return { apiKey: toProtoApiKey(verified), credentialGeneration: verified.matchedGeneration };
  };
}
