import { fromBase64 } from "@pkiserver/log";
import type { pkiV1 } from "@pkiserver/proto";
import type { TransparencyLog } from "../../domain/transparency";
import { checkDate, checkRef } from "../../domain/validation";
import { recordToProto, refFromProto } from "./codec";
import { entryProofToProto } from "./log-codec";

export function getKeyProofHandler(log: TransparencyLog) {
  return async (req: pkiV1.GetKeyProofRequest): Promise<pkiV1.GetKeyProofResponse> => {
    const p = await log.keyProof(checkRef(refFromProto(req.ref)), checkDate(req.date));
    return {
      checkpoint: p.checkpoint,
      record: recordToProto(p.record),
      entry: entryProofToProto(p.entry),
      ...(p.next ? { next: entryProofToProto(p.next) } : {}),
      ...(p.head
        ? {
            head: {
              bitmap: Buffer.from(fromBase64(p.head.bitmap)),
              siblings: p.head.siblings.map((s) => Buffer.from(fromBase64(s))),
            },
          }
        : {}),
    };
  };
}
