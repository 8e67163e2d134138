import { createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, randomBytes } from "node:crypto";
import { concat, fromBase64, sha256, toBase64, utf8 } from "./bytes.js";

/** Signature algorithm byte of Ed25519 in golang.org/x/mod/sumdb/note. */
const ALG_ED25519 = 0x01;

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

/** A key name: non-empty, no spaces or plus signs (c2sp.org/signed-note). */
function checkName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) throw new Error("invalid key name");
}

/** The 4-byte key hash: SHA-256(name || "\n" || 0x01 || public key), first 4 bytes, big-endian. */
export function keyHash(name: string, publicKey: Uint8Array): number {
  const h = sha256(utf8(`${name}\n`), new Uint8Array([ALG_ED25519]), publicKey);
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

/** Splits on the first n-1 plus signs: the base64 key at the end may hold plus signs itself. */
function splitKey(text: string, n: number): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 0; i < n - 1; i++) {
    const at = rest.indexOf("+");
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, "0");

export interface NoteVerifier {
  name: string;
  keyHash: number;
  publicKey: Uint8Array;
}

export interface NoteSigner extends NoteVerifier {
  seed: Uint8Array;
}

/** `<name>+<8 hex key hash>+<base64(0x01 || public key)>` */
export function encodeVerifierKey(v: { name: string; publicKey: Uint8Array }): string {
  checkName(v.name);
  return `${v.name}+${hex8(keyHash(v.name, v.publicKey))}+${toBase64(concat(new Uint8Array([ALG_ED25519]), v.publicKey))}`;
}

export function parseVerifierKey(text: string): NoteVerifier {
  const parts = splitKey(text, 3);
  if (parts === undefined) throw new Error("malformed verifier key");
  const [name, hash, key] = parts as [string, string, string];
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new Error("malformed verifier key");
  const raw = fromBase64(key);
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) throw new Error("unsupported verifier key");
  const publicKey = raw.subarray(1);
  if (keyHash(name, publicKey) !== Number.parseInt(hash, 16)) throw new Error("verifier key hash mismatch");
  return { name, keyHash: keyHash(name, publicKey), publicKey };
}

function publicKeyOf(seed: Uint8Array): Uint8Array {
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
  const jwk = createPublicKey(key).export({ format: "jwk" });
  return new Uint8Array(Buffer.from(jwk.x as string, "base64url"));
}

/** `PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 || seed)>`, as note.GenerateKey writes it. */
export function encodeSignerKey(s: NoteSigner): string {
  checkName(s.name);
  return `PRIVATE+KEY+${s.name}+${hex8(s.keyHash)}+${toBase64(concat(new Uint8Array([ALG_ED25519]), s.seed))}`;
}

export function parseSignerKey(text: string): NoteSigner {
  const parts = splitKey(text, 5);
  if (parts === undefined || parts[0] !== "PRIVATE" || parts[1] !== "KEY") throw new Error("malformed signing key");
  const [, , name, hash, key] = parts as [string, string, string, string, string];
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(hash)) throw new Error("malformed signing key");
  const raw = fromBase64(key);
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) throw new Error("unsupported signing key");
  const seed = raw.slice(1);
  const publicKey = publicKeyOf(seed);
  const kh = keyHash(name, publicKey);
  if (kh !== Number.parseInt(hash, 16)) throw new Error("signing key hash mismatch");
  return { name, keyHash: kh, publicKey, seed };
}

export function generateSigner(name: string): NoteSigner {
  checkName(name);
  const seed = new Uint8Array(randomBytes(32));
  const publicKey = publicKeyOf(seed);
  return { name, keyHash: keyHash(name, publicKey), publicKey, seed };
}

/** c2sp.org/signed-note: the text, a blank line, then one `— <name> <base64(key hash || sig)>` line. */
export function signNote(text: string, signer: NoteSigner): string {
  if (!text.endsWith("\n") || text.includes("\n\n"))
    throw new Error("note text must be non-empty lines ending in a newline");
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, signer.seed]), format: "der", type: "pkcs8" });
  const sig = edSign(null, utf8(text), key);
  const hash = new Uint8Array(4);
  new DataView(hash.buffer).setUint32(0, signer.keyHash);
  return `${text}\n\u2014 ${signer.name} ${toBase64(concat(hash, sig))}\n`;
}

/**
 * Opens a signed note with one trusted verifier: returns the text when a signature line of that
 * key verifies, else throws. Signatures by other keys are ignored, as the spec asks.
 */
export function openNote(note: string, verifier: NoteVerifier): string {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("malformed note");
  const text = note.slice(0, split + 1);
  const sigs = note.slice(split + 2);
  if (!sigs.endsWith("\n")) throw new Error("malformed note");
  const spki = createPublicKey({ key: Buffer.concat([SPKI_ED25519, verifier.publicKey]), format: "der", type: "spki" });
  for (const line of sigs.slice(0, -1).split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (m === null) throw new Error("malformed signature line");
    if (m[1] !== verifier.name) continue;
    let raw: Uint8Array;
    try {
      raw = fromBase64(m[2]!);
    } catch {
      throw new Error("malformed signature line");
    }
    if (raw.length < 5) throw new Error("malformed signature line");
    if (new DataView(raw.buffer, raw.byteOffset).getUint32(0) !== verifier.keyHash) continue;
    if (edVerify(null, utf8(text), spki, raw.subarray(4))) return text;
    throw new Error("invalid signature");
  }
  throw new Error("no signature by the trusted key");
}
