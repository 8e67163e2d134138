import { AppError, type CallOptions, type CallScoped, connectService, type ServiceTarget } from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyInfo, VerifiedApiKey } from "../../domain/entities";
import type { ApiKeyVerifier } from "../../domain/ports";

function toInfo(key: apikeyV1.ApiKey | undefined): ApiKeyInfo {
  if (!key) throw new AppError("rpc.internal", { internal: "apikey answered without a key" });
  return {
    apiKeyId: key.apiKeyId,
    enabled: key.enabled,
    maxScope: key.maxScope,
    credentialGeneration: key.credentialGeneration,
    ...(key.previousCredentialExpiresAt === undefined
      ? {}
      : { previousCredentialExpiresAt: key.previousCredentialExpiresAt }),
  };
}

function toVerified(res: { apiKey?: apikeyV1.ApiKey | undefined; credentialGeneration: number }): VerifiedApiKey {
  return { ...toInfo(res.apiKey), matchedGeneration: res.credentialGeneration };
}

/** The ApiKeyVerifier port over apikey's gRPC API. Its AppErrors pass through as they come. */
export function createApiKeyClient(target: ServiceTarget): ApiKeyVerifier &
  CallScoped<ApiKeyVerifier> & {
    close(): void;
    waitForReady(timeoutMs: number): Promise<void>;
  } {
  const { client, close, waitForReady } = connectService<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    apikeyV1.ApiKeyServiceClient.serviceName,
    target,
  );
  const verifier = (call: CallOptions): ApiKeyVerifier => ({
    async verifySecret(apiKeyId, secret) {
      return toVerified(await client.verifySecret({ apiKeyId, secret }, call));
    },
    async verifySignature(input) {
      const res = await client.verifySignature(
        {
          apiKeyId: input.apiKeyId,
          timestamp: input.timestamp,
          nonce: input.nonce,
          payload: Buffer.from(input.payload),
          signature: input.signature,
        },
        call,
      );
      return toVerified(res);
    },
    async getApiKey(apiKeyId) {
      try {
        return toInfo((await client.getApiKey({ apiKeyId }, call)).apiKey);
      } catch (err) {
        if (err instanceof AppError && err.code === "apikey.not_found") return undefined;
        throw err;
      }
    },
  });
  return { ...verifier({}), within: verifier, close, waitForReady };
}
