import type { pkiV1 } from "@pkiserver/proto";
import { checkLogIndex } from "../../domain/log-params";
import type { TransparencyLog } from "../../domain/transparency";
import { bufferOf } from "./log-codec";

export function getConsistencyProofHandler(log: TransparencyLog) {
  return async (req: pkiV1.GetConsistencyProofRequest): Promise<pkiV1.GetConsistencyProofResponse> => {
    const fromSize = checkLogIndex("fromSize", req.fromSize);
    const toSize = checkLogIndex("toSize", req.toSize);
    const hashes = await log.consistencyProof(fromSize, toSize);
    return { fromSize, toSize, hashes: hashes.map(bufferOf) };
  };
}
