import { AppError, createClient } from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyInfo } from "../../domain/model";
import type { ApiKeyVerifier } from "../../domain/ports";

function toInfo(key: apikeyV1.ApiKey | undefined): ApiKeyInfo {
  if (!key) throw new AppError("rpc.internal", { internal: "apikey answered without a key" });
  return { apiKeyId: key.apiKeyId, enabled: key.enabled, maxScope: key.maxScope };
}

/** The ApiKeyVerifier port over apikey's gRPC API. Its AppErrors pass through as they come. */
export function createApiKeyClient(address: string): ApiKeyVerifier & {
  close(): void;
  waitForReady(timeoutMs: number): Promise<void>;
} {
  const { client, close, waitForReady } = createClient<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    "pkiserver.apikey.v1.ApiKeyService",
    address,
  );
  return {
    close,
    waitForReady,
    async verifySecret(apiKeyId, secret) {
      return toInfo((await client.verifySecret({ apiKeyId, secret })).apiKey);
    },
    async verifySignature(input) {
      const res = await client.verifySignature({
        apiKeyId: input.apiKeyId,
        timestamp: input.timestamp,
        nonce: input.nonce,
        payload: Buffer.from(input.payload),
        signature: input.signature,
      });
      return toInfo(res.apiKey);
    },
    async getApiKey(apiKeyId) {
      try {
        return toInfo((await client.getApiKey({ apiKeyId })).apiKey);
      } catch (err) {
        if (err instanceof AppError && err.code === "apikey.not_found") return undefined;
        throw err;
      }
    },
  };
}
