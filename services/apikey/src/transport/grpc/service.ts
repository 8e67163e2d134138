import { type AsyncHandlers, implement, type Logger, type ServiceRegistration } from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";
import type { ApiKeyDeps } from "../../domain/ports";
import { addApiKeyHandler } from "./add-api-key";
import { createFirstApiKeyHandler } from "./create-first-api-key";
import { deleteApiKeyHandler } from "./delete-api-key";
import { getApiKeyHandler } from "./get-api-key";
import { listApiKeysHandler } from "./list-api-keys";
import { updateApiKeyHandler } from "./update-api-key";
import { verifySecretHandler } from "./verify-secret";
import { verifySignatureHandler } from "./verify-signature";

export const API_KEY_SERVICE_NAME = "pkiserver.apikey.v1.ApiKeyService";

/*
 * The generated server interface carries grpc-js's string index signature,
 * which would turn every mapped handler type into `never`; picking the RPC
 * names drops it.
 */
type Rpcs = Pick<apikeyV1.ApiKeyServiceServer, keyof typeof apikeyV1.ApiKeyServiceService>;

export function apiKeyService(deps: ApiKeyDeps, logger: Logger): ServiceRegistration {
  const handlers: AsyncHandlers<Rpcs> = {
    createFirstApiKey: createFirstApiKeyHandler(deps),
    addApiKey: addApiKeyHandler(deps),
    getApiKey: getApiKeyHandler(deps),
    listApiKeys: listApiKeysHandler(deps),
    updateApiKey: updateApiKeyHandler(deps),
    deleteApiKey: deleteApiKeyHandler(deps),
    verifySecret: verifySecretHandler(deps),
    verifySignature: verifySignatureHandler(deps),
  };
  return {
    name: API_KEY_SERVICE_NAME,
    definition: apikeyV1.ApiKeyServiceService,
    implementation: implement<Rpcs>(apikeyV1.ApiKeyServiceService, handlers, logger),
  };
}
