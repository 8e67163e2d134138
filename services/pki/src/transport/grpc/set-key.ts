import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { setKey } from "../../domain/set-key";
import { recordToProto, refFromProto } from "./codec";

export function setKeyHandler(deps: PkiDeps) {
  return async (req: pkiV1.SetKeyRequest): Promise<pkiV1.SetKeyResponse> => ({
    record: recordToProto(
      await setKey(deps, { ref: refFromProto(req.ref), userPubKey: req.userPubKey, customData: req.customDataJson }),
    ),
  });
}
