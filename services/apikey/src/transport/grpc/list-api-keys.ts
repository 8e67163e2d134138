import type { apikeyV1 } from "@pkiserver/proto";
import { listApiKeys } from "../../domain/list-api-keys";
import type { ApiKeyDeps } from "../../domain/ports";
import { toProtoApiKey } from "./codec";

export function listApiKeysHandler(deps: ApiKeyDeps) {
  return async (_req: apikeyV1.ListApiKeysRequest): Promise<apikeyV1.ListApiKeysResponse> => ({
    apiKeys: (await listApiKeys(deps)).map(toProtoApiKey),
  });
}
