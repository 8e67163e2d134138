import type { pkiV1 } from "@pkiserver/proto";
import { getKeyHistory } from "../../domain/get-key-history";
import type { PkiDeps } from "../../domain/ports";
import { recordToProto, refFromProto } from "./codec";

export function getKeyHistoryHandler(deps: PkiDeps) {
  return async (req: pkiV1.GetKeyHistoryRequest): Promise<pkiV1.GetKeyHistoryResponse> => ({
    records: (await getKeyHistory(deps, { ref: refFromProto(req.ref) })).map(recordToProto),
  });
}
