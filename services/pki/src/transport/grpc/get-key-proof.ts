import type { pkiV1 } from "@pkiserver/proto";
import type { TransparencyLog } from "../../domain/transparency";
import { checkDate, checkRef } from "../../domain/validation";
import { recordToProto, refFromProto } from "./codec";
import { entryProofToProto } from "./log-codec";

/** The head map's own base64 (well-formed: no check, one decoding per sibling, a sibling per level of the map). */
const fromOwnBase64 = (text: string): Buffer => Buffer.from(text, "base64");

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
              bitmap: fromOwnBase64(p.head.bitmap),
              siblings: p.head.siblings.map(fromOwnBase64),
            },
          }
        : {}),
    };
  };
}
