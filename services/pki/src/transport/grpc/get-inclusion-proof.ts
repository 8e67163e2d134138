import type { pkiV1 } from "@pkiserver/proto";
import { checkLogIndex } from "../../domain/log-params";
import type { TransparencyLog } from "../../domain/transparency";
import { entryProofToProto } from "./log-codec";

export function getInclusionProofHandler(log: TransparencyLog) {
  return async (req: pkiV1.GetInclusionProofRequest): Promise<pkiV1.GetInclusionProofResponse> => {
    const leafIndex = checkLogIndex("leafIndex", req.leafIndex);
    const treeSize = checkLogIndex("treeSize", req.treeSize);
    return { treeSize, proof: entryProofToProto(await log.inclusionProof(leafIndex, treeSize)) };
  };
}
