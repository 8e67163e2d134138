import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { type AccessTokenClaims, type SigningMaterial, signAccessToken, type TokenIdentity } from "./token";

/** Signs access tokens with `signAccessToken`'s codec, here or elsewhere. */
export interface AccessTokenSigner {
  sign(claims: AccessTokenClaims, key: SigningMaterial, identity?: TokenIdentity): Promise<string>;
  /** Stops signing; what is still being signed is refused. */
  close(): Promise<void>;
}

/** Signs on the calling thread: for tests and tools that sign a token now and then. */
export const inlineSigner: AccessTokenSigner = {
  sign: signAccessToken,
  close: async () => {},
};

/** A signature asked of the signing thread. */
export interface SignRequest {
  readonly kind: "sign";
  readonly id: number;
  readonly claims: AccessTokenClaims;
  readonly kid: string;
  readonly identity: TokenIdentity | undefined;
}

/** A key for the signing thread to hold, sent before the first request that uses it. */
export interface KeyToHold {
  readonly kind: "key";
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** Its answer: the token, or why there is none. */
export type SignAnswer =
  | { readonly id: number; readonly token: string }
  | { readonly id: number; readonly error: string };

/**
 * What the signing thread is sent: keys and requests, in the order asked. A turn of the event loop
 * sends what it asked at its end, and every SIGNING_BATCH requests at once before that.
 */
export type ToSigningThread = readonly (KeyToHold | SignRequest)[];

/** What it answers, also once per turn of its own loop. */
export type FromSigningThread = readonly SignAnswer[];

/**
 * Keys the signing thread holds: the newest this many, in the order they were sent. The thread
 * evicts by the same rule, so the sender knows which kids it holds without asking. Only the current
 * rotation period's key signs, so a few cover a period's change.
 */
export const SIGNING_THREAD_KEYS = 4;

/**
 * Requests that go to the thread together as soon as that many wait, before the end of the turn of
 * the event loop. A busy turn (50 grants read from as many connections) takes milliseconds;
 * with all of its requests sent at its end, the thread idled through it and the loop then waited
 * for a whole turn's signatures. A message per request costs the loop a wake-up of the thread each.
 */
export const SIGNING_BATCH = 8;

/** The signing thread's heap limits (MiB): young generation, old generation. */
const SIGNING_THREAD_YOUNG_MB = 8;
const SIGNING_THREAD_OLD_MB = 64;

interface Waiting {
  resolve(token: string): void;
  reject(err: Error): void;
}

/**
 * Signs on a thread of its own (signing-thread.ts). A grant's signature is most of what it costs
 * the event loop that serves requests: jose's JWS encoding and WebCrypto's job set-up, then the
 * signature on the thread pool. Here the event loop only posts the claims (a turn's in messages of
 * up to SIGNING_BATCH requests) and reads the tokens back. A thread that dies, or a message that
 * cannot be sent or read, refuses what it was signing; the next signature starts a new one.
 */
export class SigningThread implements AccessTokenSigner {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  /** What was asked and not sent yet: sent at the end of the turn, or when SIGNING_BATCH requests are waiting. */
  private outbox: (KeyToHold | SignRequest)[] = [];
  /** Requests in `outbox`. */
  private queued = 0;
  /** Kids the current thread holds, oldest first (its own eviction order). */
  private held: string[] = [];
  private closed = false;

  constructor(
    private readonly opts: {
      /** Told when the thread dies (it is started again at the next signature). */
      onFailure?: (detail: string) => void;
      /** The thread's script: signing-thread.js beside this file unless a test gives another. */
      entry?: string;
    } = {},
  ) {}

  sign(claims: AccessTokenClaims, key: SigningMaterial, identity?: TokenIdentity): Promise<string> {
    if (this.closed) return Promise.reject(new Error("the token signer is closed"));
    const worker = this.worker ?? this.start();
    if (this.outbox.length === 0) setImmediate(() => this.flush(worker));
    if (!this.held.includes(key.kid)) {
      this.outbox.push({ kind: "key", kid: key.kid, privateKey: key.privateKey });
      this.held.push(key.kid);
      if (this.held.length > SIGNING_THREAD_KEYS) this.held.shift();
    }
    const id = this.nextId++;
    const signed = new Promise<string>((resolve, reject) => {
      // The thread keeps the process alive only while it has something to sign.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.outbox.push({ kind: "sign", id, claims, kid: key.kid, identity });
    });
    if (++this.queued >= SIGNING_BATCH) this.flush(worker);
    return signed;
  }

  private flush(worker: Worker): void {
    // A thread lost meanwhile refused these requests already (and the outbox is another thread's now).
    if (this.worker !== worker || this.outbox.length === 0) return;
    const message: ToSigningThread = this.outbox;
    this.outbox = [];
    this.queued = 0;
    try {
      worker.postMessage(message);
    } catch (err) {
      // Claims that cannot be copied to the thread: the requests waiting are refused, and the
      // thread, which may not have had this message's keys, is replaced.
      void this.drop(worker, `signing request not sent: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private start(): Worker {
    const worker = new Worker(this.opts.entry ?? join(__dirname, "signing-thread.js"), {
      // It holds a few keys and the claims in flight: a small heap of its own, so its memory stays
      // bounded (past the limit the thread ends and the next signature starts another).
      resourceLimits: {
        maxYoungGenerationSizeMb: SIGNING_THREAD_YOUNG_MB,
        maxOldGenerationSizeMb: SIGNING_THREAD_OLD_MB,
      },
    });
    worker.unref();
    worker.on("message", (answers: FromSigningThread) => {
      for (const a of answers) {
        const w = this.waiting.get(a.id);
        if (w === undefined) continue;
        this.waiting.delete(a.id);
        if ("token" in a) w.resolve(a.token);
        else w.reject(new Error(a.error));
      }
      // A thread given up is still ended (close awaits that): an answer it sent before must not unref it.
      if (this.waiting.size === 0 && this.worker === worker) worker.unref();
    });
    worker.on("error", (err) => this.lost(worker, `token signing thread failed: ${err.message}`));
    // An answer that cannot be read would leave its requests waiting: the thread is replaced.
    worker.on(
      "messageerror",
      (err) => void this.drop(worker, `token signing thread's answer unreadable: ${err.message}`),
    );
    worker.on("exit", (code) => this.lost(worker, `token signing thread exited (code ${code})`));
    // `held` and `outbox` are empty here: at first, and since `lost` emptied them with the thread before.
    this.worker = worker;
    return worker;
  }

  /** The thread is gone: what it was signing is refused, and the next signature starts another. */
  private lost(worker: Worker, detail: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.held = [];
    this.outbox = [];
    this.queued = 0;
    const refused = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of refused) w.reject(new Error(detail));
    if (!this.closed) this.opts.onFailure?.(detail);
  }

  /** Gives the thread up: what it was signing is refused, and it is ended. */
  private drop(worker: Worker, detail: string): Promise<number> {
    this.lost(worker, detail);
    // Held until it has ended, or the loop could finish with the promise below never settled.
    worker.ref();
    return worker.terminate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.worker !== undefined) await this.drop(this.worker, "the token signer is closed");
  }
}
