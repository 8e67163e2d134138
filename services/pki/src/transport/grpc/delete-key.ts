import type { pkiV1 } from "@pkiserver/proto";
import { deleteKey } from "../../domain/delete-key";
import type { PkiDeps } from "../../domain/ports";
import { recordToProto, refFromProto } from "./codec";

export function deleteKeyHandler(deps: PkiDeps) {
  return async (req: pkiV1.DeleteKeyRequest): Promise<pkiV1.DeleteKeyResponse> => ({
    record: recordToProto(await deleteKey(deps, { ref: refFromProto(req.ref) })),
  });
}
