import type { authV1 } from "@pkiserver/proto";
import type { AuthDeps } from "../../domain/ports";
import { signingKeyToProto } from "./codec";

export function getSigningKeys(deps: AuthDeps) {
  return async (_req: authV1.GetSigningKeysRequest): Promise<authV1.GetSigningKeysResponse> => ({
    keys: (await deps.keys.publicKeys()).map(signingKeyToProto),
  });
}
