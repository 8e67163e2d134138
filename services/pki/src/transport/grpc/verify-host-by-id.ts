import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { verifyHostById } from "../../domain/verify-host-by-id";

export function verifyHostByIdHandler(deps: PkiDeps) {
  return async (req: pkiV1.VerifyHostByIdRequest): Promise<pkiV1.VerifyHostByIdResponse> => ({
    valid: await verifyHostById(deps, req),
  });
}
