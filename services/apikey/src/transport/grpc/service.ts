import { requiredScope } from "@pkiserver/contract";
import type { BearerVerifier, CallContext, Logger, RpcHandlers, RpcRules, ServiceRegistration } from "@pkiserver/kit";
import { bindToCall, serviceRegistration } from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { addApiKeyHandler } from "./add-api-key";
import { createFirstApiKeyHandler } from "./create-first-api-key";
import { deleteApiKeyHandler } from "./delete-api-key";
import { getApiKeyHandler } from "./get-api-key";
import { listApiKeysHandler } from "./list-api-keys";
import { rotateApiKeyHandler } from "./rotate-api-key";
import { updateApiKeyHandler } from "./update-api-key";
import { verifySecretHandler } from "./verify-secret";
import { verifySignatureHandler } from "./verify-signature";

export const API_KEY_SERVICE_NAME = apikeyV1.ApiKeyServiceClient.serviceName;

/**
 * Who may call each RPC: the scope of the public method it serves (the
 * contract's table), or anyone for the RPCs that check a presented secret.
 */
export const API_KEY_RPC_RULES: RpcRules<apikeyV1.ApiKeyServiceServer> = {
  createFirstApiKey: "open",
  addApiKey: requiredScope("user/addApiKey"),
  getApiKey: requiredScope("user/getApiKey"),
  listApiKeys: requiredScope("user/listApiKeys"),
  updateApiKey: requiredScope("user/updateApiKey"),
  deleteApiKey: requiredScope("user/deleteApiKey"),
  rotateApiKey: requiredScope("user/rotateApiKey"),
  verifySecret: "open",
  verifySignature: "open",
};

/** The admitted caller's scopes (a scoped RPC never runs without a caller). */
const scopesOf = (ctx: CallContext): readonly string[] => ctx.caller?.scopes ?? [];

/** `tokens` verifies the Bearer tokens presented on calls; without it only trusted channels are admitted. */
export function apiKeyService(
  deps: ApiKeyDeps,
  logger: Logger,
  tokens: BearerVerifier | undefined,
): ServiceRegistration {
  // Each call works on stores that refuse further steps once its caller gave up.
  const forCall = bindToCall(deps, { stores: ["store", "nonces"], events: ["events"] });
  const handlers: RpcHandlers<apikeyV1.ApiKeyServiceServer> = {
    createFirstApiKey: (req, ctx) => createFirstApiKeyHandler(forCall(ctx))(req),
    addApiKey: (req, ctx) => addApiKeyHandler(forCall(ctx))(req, scopesOf(ctx)),
    getApiKey: (req, ctx) => getApiKeyHandler(forCall(ctx))(req),
    listApiKeys: (req, ctx) => listApiKeysHandler(forCall(ctx))(req),
    updateApiKey: (req, ctx) => updateApiKeyHandler(forCall(ctx))(req, scopesOf(ctx)),
    deleteApiKey: (req, ctx) => deleteApiKeyHandler(forCall(ctx))(req, scopesOf(ctx)),
    rotateApiKey: (req, ctx) => rotateApiKeyHandler(forCall(ctx))(req, scopesOf(ctx)),
    verifySecret: (req, ctx) => verifySecretHandler(forCall(ctx))(req, ctx.requestId),
    verifySignature: (req, ctx) => verifySignatureHandler(forCall(ctx))(req, ctx.requestId),
  };
  return serviceRegistration(API_KEY_SERVICE_NAME, apikeyV1.ApiKeyServiceService, handlers, logger, {
    rules: API_KEY_RPC_RULES,
    tokens,
  });
}
