import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { verifyKey } from "../../domain/verify-key";
import { refFromProto } from "./codec";

export function verifyKeyHandler(deps: PkiDeps) {
  return async (req: pkiV1.VerifyKeyRequest): Promise<pkiV1.VerifyKeyResponse> => ({
    valid: await verifyKey(deps, { ref: refFromProto(req.ref), userPubKey: req.userPubKey, date: req.date }),
  });
}
