import type { pkiV1 } from "@pkiserver/proto";
import { getCurrentKey } from "../../domain/get-current-key";
import type { PkiDeps } from "../../domain/ports";
import { recordToProto, refFromProto } from "./codec";

export function getCurrentKeyHandler(deps: PkiDeps) {
  return async (req: pkiV1.GetCurrentKeyRequest): Promise<pkiV1.GetCurrentKeyResponse> => ({
    record: recordToProto(await getCurrentKey(deps, { ref: refFromProto(req.ref) })),
  });
}
