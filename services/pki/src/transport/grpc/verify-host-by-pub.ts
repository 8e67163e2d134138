import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { verifyHostByPub } from "../../domain/verify-host-by-pub";

export function verifyHostByPubHandler(deps: PkiDeps) {
  return async (req: pkiV1.VerifyHostByPubRequest): Promise<pkiV1.VerifyHostByPubResponse> => ({
    valid: await verifyHostByPub(deps, req),
  });
}
