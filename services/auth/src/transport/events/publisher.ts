import type { PublicSigningKey } from "@pkiserver/contract";
import { type CallBindable, type CallIdentity, EventPublisher, Events } from "@pkiserver/kit";
import { accessTokensExpireAt, type Session } from "../../domain/entities";
import type { AuthEvents } from "../../domain/ports";

/**
 * Publishes auth events on the bus. Event ids are derived from what they
 * report, so publishing one twice is de-duplicated by the bus.
 */
export class BusAuthEvents extends EventPublisher implements AuthEvents, CallBindable<BusAuthEvents> {
  forCall(identity: CallIdentity): BusAuthEvents {
    return new BusAuthEvents(this.bus, this.logger, identity);
  }

  sessionOpened(s: Session, at: number): Promise<void> {
    return this.send(
      Events.sessionOpened,
      {
        sessionId: s.id,
        apiKeyId: s.apiKeyId,
        ...(s.name === undefined ? {} : { name: s.name }),
        scope: s.scope,
        at,
        ...(s.familyId !== s.id ? { familyId: s.familyId } : {}),
      },
      `auth.session.opened.${s.id}`,
    );
  }

  sessionRotated(s: Session, at: number): Promise<void> {
    return this.send(
      Events.sessionRotated,
      { sessionId: s.id, apiKeyId: s.apiKeyId, generation: s.generation, at, tokensExpireAt: accessTokensExpireAt(s) },
      `auth.session.rotated.${s.id}.${s.generation}`,
    );
  }

  sessionRevoked(s: Session, reason: string, at: number): Promise<void> {
    return this.send(
      Events.sessionRevoked,
      {
        sessionId: s.id,
        apiKeyId: s.apiKeyId,
        reason,
        at,
        tokensExpireAt: accessTokensExpireAt(s),
        sessionCreatedAt: s.createdAt,
      },
      `auth.session.revoked.${s.id}`,
    );
  }

  signingKeyRotated(key: PublicSigningKey, at: number): Promise<void> {
    return this.send(
      Events.signingKeyRotated,
      { kid: key.kid, publicJwk: key.publicJwk, at },
      `auth.signingkey.rotated.${key.kid}`,
    );
  }
}
