import { fromBase64, toBase64 } from "./bytes.js";
import { HASH_SIZE } from "./hash.js";
import { type NoteSigner, type NoteVerifier, openNote, signNote } from "./note.js";

/** What a checkpoint commits to (API.md section 11). */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  headMapRoot: Uint8Array;
}

/** The note body: exactly four lines. */
export function checkpointBody(c: Checkpoint): string {
  if (c.origin.length === 0 || c.origin.includes("\n")) throw new Error("invalid origin");
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new Error("invalid size");
  if (c.root.length !== HASH_SIZE || c.headMapRoot.length !== HASH_SIZE) throw new Error("invalid hash");
  return `${c.origin}\n${c.size}\n${toBase64(c.root)}\nheadmap ${toBase64(c.headMapRoot)}\n`;
}

export function signCheckpoint(c: Checkpoint, signer: NoteSigner): string {
  if (signer.name !== c.origin) throw new Error("the checkpoint is signed by the key named after its origin");
  return signNote(checkpointBody(c), signer);
}

/** Parses a body, refusing anything but the canonical four lines. */
export function parseCheckpointBody(text: string): Checkpoint {
  const lines = text.split("\n");
  if (lines.length !== 5 || lines[4] !== "") throw new Error("malformed checkpoint");
  const [origin, size, root, head] = lines as [string, string, string, string];
  if (origin.length === 0 || !/^(0|[1-9][0-9]*)$/.test(size) || !head.startsWith("headmap ")) {
    throw new Error("malformed checkpoint");
  }
  const c: Checkpoint = {
    origin,
    size: Number(size),
    root: fromBase64(root),
    headMapRoot: fromBase64(head.slice("headmap ".length)),
  };
  if (!Number.isSafeInteger(c.size) || c.root.length !== HASH_SIZE || c.headMapRoot.length !== HASH_SIZE) {
    throw new Error("malformed checkpoint");
  }
  return c;
}

/** Verifies the signature with the pinned key, then parses; the origin must be the key's name. */
export function openCheckpoint(note: string, verifier: NoteVerifier): Checkpoint {
  const c = parseCheckpointBody(openNote(note, verifier));
  if (c.origin !== verifier.name) throw new Error("checkpoint origin is not the verifier key's name");
  return c;
}
