import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256, toBase64 } from "./bytes.js";
import { checkpointBody, openCheckpoint, parseCheckpointBody, signCheckpoint } from "./checkpoint.js";
import {
  encodeSignerKey,
  encodeVerifierKey,
  generateSigner,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from "./note.js";

// The example of golang.org/x/mod/sumdb/note's documentation.
const SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIGNED =
  TEXT +
  "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

describe("signed notes (golang.org/x/mod/sumdb/note)", () => {
  it("reads Go's private key form and derives its verifier key", () => {
    const signer = parseSignerKey(SKEY);
    assert.equal(encodeVerifierKey(signer), VKEY);
    assert.equal(encodeSignerKey(signer), SKEY);
    assert.equal(parseVerifierKey(VKEY).keyHash, 0xc74f20a3);
  });

  it("signs exactly as Go does and opens Go's signed note", () => {
    assert.equal(signNote(TEXT, parseSignerKey(SKEY)), SIGNED);
    assert.equal(openNote(SIGNED, parseVerifierKey(VKEY)), TEXT);
  });

  it("refuses a note whose text or signature changed", () => {
    const v = parseVerifierKey(VKEY);
    assert.throws(() => openNote(SIGNED.replace("answer", "answee"), v));
    const sig = SIGNED.lastIndexOf(" ") + 10;
    const other = SIGNED[sig] === "A" ? "B" : "A";
    assert.throws(() => openNote(SIGNED.slice(0, sig) + other + SIGNED.slice(sig + 1), v));
    // Signed by another key of the same name: no signature by the trusted key.
    const stranger = generateSigner("PeterNeumann");
    assert.throws(() => openNote(signNote(TEXT, stranger), v), /no signature by the trusted key/);
  });

  it("refuses keys whose hash does not match their name and key", () => {
    assert.throws(() => parseVerifierKey(VKEY.replace("c74f20a3", "c74f20a4")));
    assert.throws(() => parseVerifierKey(VKEY.replace("PeterNeumann", "PeterNeuman")));
    assert.throws(() => parseSignerKey(SKEY.replace("c74f20a3", "00000000")));
    assert.throws(() => parseVerifierKey(`${VKEY}+x`));
    assert.throws(() => parseVerifierKey("PeterNeumann+c74f20a3"));
  });
});

describe("checkpoints", () => {
  const signer = generateSigner("example.com/log");
  const verifier = parseVerifierKey(encodeVerifierKey(signer));
  const c = { origin: "example.com/log", size: 3, root: sha256(new Uint8Array([1])), headMapRoot: sha256() };

  it("have exactly the four lines of API.md section 11", () => {
    assert.equal(checkpointBody(c), `example.com/log\n3\n${toBase64(c.root)}\nheadmap ${toBase64(c.headMapRoot)}\n`);
  });

  it("round-trip through signing and opening with the pinned key", () => {
    const note = signCheckpoint(c, signer);
    assert.deepEqual(openCheckpoint(note, verifier), c);
  });

  it("refuse a changed size, root or head-map root, and non-canonical bodies", () => {
    const note = signCheckpoint(c, signer);
    assert.throws(() => openCheckpoint(note.replace("\n3\n", "\n4\n"), verifier));
    assert.throws(() => parseCheckpointBody("example.com/log\n03\nAA==\nheadmap AA==\n"));
    assert.throws(() => parseCheckpointBody(`${checkpointBody(c)}extra\n`));
    assert.throws(() => parseCheckpointBody(checkpointBody(c).replace("headmap ", "headmap=")));
    assert.throws(() => signCheckpoint({ ...c, origin: "other" }, signer));
  });
});
