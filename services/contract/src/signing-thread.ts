// The signing thread's entry (token-signer.ts starts it): holds the keys it is sent and signs
// the claims it is sent with signAccessToken, answering each request by its id.
import type { KeyObject } from "node:crypto";
import { parentPort } from "node:worker_threads";
import { signAccessToken } from "./token";
import { type FromSigningThread, SIGNING_THREAD_KEYS, type SignAnswer, type ToSigningThread } from "./token-signer";

const port = parentPort;
if (port === null) throw new Error("signing-thread.js runs as a worker thread");

const keys = new Map<string, KeyObject>();
/** Answers of this turn of the thread's loop, sent together at its end. */
let answers: SignAnswer[] = [];
const answer = (a: SignAnswer) => {
  answers.push(a);
  if (answers.length === 1) {
    setImmediate(() => {
      const message: FromSigningThread = answers;
      answers = [];
      port.postMessage(message);
    });
  }
};

// Requests that cannot be read cannot be answered: the thread ends, and its owner refuses what it
// was waiting for and starts another.
port.on("messageerror", () => process.exit(1));

port.on("message", (items: ToSigningThread) => {
  // In the order sent: a key comes before the requests that use it, and evicting one follows the
  // same order on both sides.
  for (const item of items) {
    if (item.kind === "key") {
      keys.set(item.kid, item.privateKey);
      if (keys.size > SIGNING_THREAD_KEYS) keys.delete(keys.keys().next().value as string);
      continue;
    }
    const { id, kid, claims, identity } = item;
    const privateKey = keys.get(kid);
    if (privateKey === undefined) {
      answer({ id, error: `the signing thread does not hold key ${kid}` });
      continue;
    }
    signAccessToken(claims, { kid, privateKey }, identity).then(
      (token) => answer({ id, token }),
      (err: unknown) => answer({ id, error: err instanceof Error ? err.message : String(err) }),
    );
  }
});
