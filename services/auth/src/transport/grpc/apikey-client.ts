import {
  AppError,
  type AsyncClient,
  type Caller,
  type CallOptions,
  type CallScoped,
  connectService,
  type GrpcTls,
  type ServiceTarget,
} from "@pkiserver/kit";
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
  return { matchedGeneration: res.credentialGeneration, ...toInfo(res.apiKey) };
}

/** apikey's refusals of a credential; apikey reported each to the audit log with its verdict. */
const refusals = new WeakSet<object>();

/** Whether `err` is apikey's refusal of a credential (so already reported, and not to be reported again). */
export function refusedByApikey(err: unknown): boolean {
  return typeof err === "object" && err !== null && refusals.has(err);
}

function noteRefusal(err: unknown): never {
  if (err instanceof AppError && (err.code === "auth.invalid_credentials" || err.code === "apikey.not_found")) {
    refusals.add(err);
  }
  throw err;
}

/**
 * The ApiKeyVerifier port over apikey's gRPC API. Its AppErrors pass through
 * as they come; a credential refusal is also noted (see refusedByApikey).
 * Verifying a credential needs no caller; reading a key is done as `caller`
 * (absent: auth itself, over a trusted channel).
 */
export function createApiKeyClient(
  target: ServiceTarget,
  opts: { tls?: GrpcTls | undefined; caller?: (() => Promise<Caller>) | undefined } = {},
): ApiKeyVerifier &
  CallScoped<ApiKeyVerifier> & {
    credentials: CredentialChecks;
    close(): void;
    waitForReady(timeoutMs: number): Promise<void>;
  } {
  const { client, close, waitForReady } = connectService<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceService,
    apikeyV1.ApiKeyServiceClient.serviceName,
    target,
    { tls: opts.tls },
  );
  const { caller } = opts;
  const verifier = (call: CallOptions): ApiKeyVerifier => ({
    async verifySecret(apiKeyId, secret, attempt) {
      const res = await client
        .verifySecret({ apiKeyId, secret, ...(attempt === undefined ? {} : { attempt }) }, call)
        .catch(noteRefusal);
      return toVerified(res);
    },
    async verifySignature(input) {
      const res = await client
        .verifySignature(
          {
            apiKeyId: input.apiKeyId,
            timestamp: input.timestamp,
            nonce: input.nonce,
            payload: Buffer.from(input.payload),
            signature: input.signature,
            ...(input.attempt === undefined ? {} : { attempt: input.attempt }),
          },
          call,
        )
        .catch(noteRefusal);
      return toVerified(res);
    },
    async getApiKey(apiKeyId) {
      try {
        // Object.assign rather than { ...call, caller }: node 20 adds a key to a spread copy slowly.
        const as = caller === undefined ? call : Object.assign({}, call, { caller: await caller() });
        return toInfo((await client.getApiKey({ apiKeyId }, as)).apiKey);
      } catch (err) {
        if (err instanceof AppError && err.code === "apikey.not_found") return undefined;
        throw err;
      }
    },
  });
  return { ...verifier({}), within: verifier, credentials: credentialChecks(client), close, waitForReady };
}

/** apikey's own answers to a credential check, as they come (for auth's VerifySecret and VerifySignature). */
export interface CredentialChecks {
  verifySecret(req: apikeyV1.VerifySecretRequest, call: CallOptions): Promise<apikeyV1.VerifySecretResponse>;
  verifySignature(req: apikeyV1.VerifySignatureRequest, call: CallOptions): Promise<apikeyV1.VerifySignatureResponse>;
}

function credentialChecks(client: AsyncClient<apikeyV1.ApiKeyServiceServer>): CredentialChecks {
  return {
    verifySecret: (req, call) => client.verifySecret(req, call).catch(noteRefusal),
    verifySignature: (req, call) => client.verifySignature(req, call).catch(noteRefusal),
  };
}
