import { bindToCall, type Logger, perCall, registration } from "@pkiserver/kit";
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

export function apiKeyService(deps: ApiKeyDeps, logger: Logger) {
  // Each call works on stores that refuse further steps once its caller gave up.
  const forCall = bindToCall(deps, { stores: ["store", "nonces"] });
  const handlers = perCall(forCall, {
    createFirstApiKey: createFirstApiKeyHandler,
    addApiKey: addApiKeyHandler,
    getApiKey: getApiKeyHandler,
    listApiKeys: listApiKeysHandler,
    updateApiKey: updateApiKeyHandler,
    deleteApiKey: deleteApiKeyHandler,
    rotateApiKey: rotateApiKeyHandler,
    verifySecret: verifySecretHandler,
    verifySignature: verifySignatureHandler,
  });
  return registration<apikeyV1.ApiKeyServiceServer>(
    apikeyV1.ApiKeyServiceClient,
    apikeyV1.ApiKeyServiceService,
    handlers,
    logger,
  );
}
