import { type InProcessApiKeyService, inProcessApiKeyService } from "@pkiserver/apikey/testing";
import { createAccessTokenVerifier, inlineSigner, type PublicSigningKey } from "@pkiserver/contract";
import { SecretBox } from "@pkiserver/kit";
import { type AuthSettings, MAX_SESSIONS_PER_KEY, maxAccessLifetime, type Session } from "../domain/entities";
import type { AuthDeps, AuthEvents } from "../domain/ports";
import { SigningKeyManager } from "../domain/signing-keys";
import { MemorySessionStore } from "../storage/memory-sessions";
import { MemorySigningKeyStore } from "../storage/memory-signing-keys";
import { createApiKeyClient } from "../transport/grpc/apikey-client";

/*
 * Test doubles shared by this package's unit tests. apikey is the real
 * service (its handlers, use cases and memory stores) called in process
 * through auth's own apikey client, as in the one-process form.
 */

export type RecordedEvent =
  | { type: "opened"; session: Session }
  | { type: "rotated"; session: Session }
  | { type: "revoked"; session: Session; reason: string }
  | { type: "signingKey"; key: PublicSigningKey };

export class RecordingEvents implements AuthEvents {
  readonly log: RecordedEvent[] = [];
  async sessionOpened(session: Session): Promise<void> {
    this.log.push({ type: "opened", session });
  }
  async sessionRotated(session: Session): Promise<void> {
    this.log.push({ type: "rotated", session });
  }
  async sessionRevoked(session: Session, reason: string): Promise<void> {
    this.log.push({ type: "revoked", session, reason });
  }
  async signingKeyRotated(key: PublicSigningKey): Promise<void> {
    this.log.push({ type: "signingKey", key });
  }
  revoked(): { id: string; reason: string }[] {
    return this.log.flatMap((e) => (e.type === "revoked" ? [{ id: e.session.id, reason: e.reason }] : []));
  }
}

export class ManualClock {
  constructor(public t = 1_750_000_000_000) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const SECRET = "myverylongandsecuresecretforapikey";
export const ALL = ["user:read", "user:write", "pki:read", "pki:write", "pkiadmin:read", "pkiadmin:write"];

export interface Harness {
  deps: AuthDeps;
  clock: ManualClock;
  /** The apikey service the use cases call, on the same clock. */
  apikey: InProcessApiKeyService;
  /** A secret key (SECRET) holding every scope. */
  keyOne: string;
  events: RecordingEvents;
  sessions: MemorySessionStore;
}

/** Use-case dependencies over memory stores, a manual clock and the real apikey with one key. */
export async function harness(over: Partial<AuthSettings> = {}): Promise<Harness> {
  const clock = new ManualClock();
  const settings: AuthSettings = {
    accessTokenLifetimeMs: 900_000,
    refreshTokenLifetimeMs: 604_800_000,
    signingKeyRotationMs: 86_400_000,
    maxSessionsPerKey: MAX_SESSIONS_PER_KEY,
    ...over,
  };
  const events = new RecordingEvents();
  const sessions = new MemorySessionStore();
  const keys = new SigningKeyManager(new MemorySigningKeyStore(), SecretBox.ephemeral(), clock, events, {
    rotationMs: settings.signingKeyRotationMs,
    maxAccessLifetimeMs: maxAccessLifetime(settings),
  });
  const verifier = createAccessTokenVerifier({
    now: clock.now,
    fetchKeys: () => keys.publicKeys(),
    refetchIntervalMs: 0,
  });
  const apikey = inProcessApiKeyService({ now: clock.now });
  const apikeys = createApiKeyClient(apikey.registration);
  const keyOne = await apikey.add({ maxScope: ALL, secret: SECRET });
  return {
    deps: { sessions, keys, signer: inlineSigner, verifier, apikeys, events, clock, settings },
    clock,
    apikey,
    keyOne,
    events,
    sessions,
  };
}
