import type { pkiV1 } from "@pkiserver/proto";
import type { EntryProof } from "../../domain/transparency";

export function entryProofToProto(p: EntryProof): pkiV1.LogEntryProof {
  return { leafIndex: p.leafIndex, entry: Buffer.from(p.entry), hashes: p.hashes.map((h) => Buffer.from(h)) };
}
