import type { AuditEventType } from "@pkiserver/contract";

/** One recorded security event (API.md section 12). Never a secret, token or signature. */
export interface AuditEvent {
  /** The id of the bus event it was recorded from: recording it again changes nothing. */
  readonly id: string;
  /** ms since the epoch. */
  readonly time: number;
  readonly type: AuditEventType;
  readonly outcome: "ok" | "denied";
  readonly actor: { readonly apiKeyId?: string; readonly sessionId?: string; readonly ip?: string };
  /** What the event is about: an API key id, a session id, an instance id, a key history. */
  readonly target: string;
  readonly requestId?: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditFilter {
  /** Inclusive bounds, ms since the epoch. */
  readonly from?: number;
  readonly to?: number;
  readonly types?: readonly AuditEventType[];
  /** Matches the actor's key or the target. */
  readonly apiKeyId?: string;
}

/** A place in the (time, id) order of events; pages continue strictly past it. */
export interface AuditPosition {
  readonly time: number;
  readonly id: string;
}

export type AuditOrder = "newest" | "oldest";
