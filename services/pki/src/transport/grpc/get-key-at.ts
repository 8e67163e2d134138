import type { pkiV1 } from "@pkiserver/proto";
import { getKeyAt } from "../../domain/get-key-at";
import type { PkiDeps } from "../../domain/ports";
import { recordToProto, refFromProto } from "./codec";

export function getKeyAtHandler(deps: PkiDeps) {
  return async (req: pkiV1.GetKeyAtRequest): Promise<pkiV1.GetKeyAtResponse> => ({
    record: recordToProto(await getKeyAt(deps, { ref: refFromProto(req.ref), date: req.date })),
  });
}
