import type { pkiV1 } from "@pkiserver/proto";
import type { EntryProof } from "../../domain/transparency";

/**
 * A view of the bytes as a Buffer, without copying them: entries and hashes of the log are never
 * changed once written (a proof's other hashes are made for it), and a proof carries a hash per
 * level of the tree, so a copy of each would cost more the larger the log.
 */
export const bufferOf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export function entryProofToProto(p: EntryProof): pkiV1.LogEntryProof {
  return { leafIndex: p.leafIndex, entry: bufferOf(p.entry), hashes: p.hashes.map(bufferOf) };
}
