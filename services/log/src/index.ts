// The verifiable log of the directory, with no server code: used by the pki service to build the
// log and by clients to check what the server shows them. Hashing and Ed25519 use node:crypto.

export { separateValues } from "./args.js";
export {
  type AuditResult,
  type AuditState,
  auditLog,
  httpFetcher,
  type LogFetcher,
  readAuditState,
  writeAuditState,
} from "./audit.js";
export { concat, equalBytes, fromBase64, sha256, toBase64, utf8 } from "./bytes.js";
export { type Checkpoint, checkpointBody, openCheckpoint, parseCheckpointBody, signCheckpoint } from "./checkpoint.js";
export {
  canonicalJson,
  decodeEntry,
  EntryBlocks,
  encodeEntry,
  entryText,
  type HostEntry,
  historyKey,
  type KeyEntry,
  KeyEntryEncoder,
  type KeyEntryFields,
  type LogEntry,
  MAX_ENTRY_BYTES,
} from "./entry.js";
export { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash } from "./hash.js";
export {
  EMPTY_HASHES,
  HEADMAP_DEPTH,
  HeadMap,
  type HeadMapProof,
  headLeafHash,
  verifyHeadMapProof,
} from "./headmap.js";
export {
  consistencyProof,
  HashLevels,
  type HashReader,
  inclusionProof,
  subtreeHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
export {
  encodeSignerKey,
  encodeVerifierKey,
  generateSigner,
  keyHash,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "./note.js";
export {
  decodeEntryBundle,
  encodeEntryBundle,
  encodeTileIndex,
  parseHashTile,
  parseTilePath,
  readHashTile,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tileExists,
  tileHashReader,
  tilePath,
  tilesOf,
} from "./tiles.js";
export {
  type EntryProofJson,
  type KeyProofAnswer,
  type KeyQuery,
  provesKey,
  VerificationError,
  type VerifiedKey,
  verifyKeyProof,
} from "./verify.js";
