/** The security events of the audit log (API.md section 12), by their public type names. */
export const AUDIT_EVENT_TYPES = [
  "apikey.created",
  "apikey.first_created",
  "apikey.updated",
  "apikey.rotated",
  "apikey.enabled",
  "apikey.disabled",
  "apikey.deleted",
  "session.opened",
  "session.refreshed",
  "session.forked",
  "session.revoked",
  "auth.failed",
  "pki.host_set",
  "pki.host_deleted",
  "pki.host_url_added",
  "pki.host_url_removed",
  "pki.key_set",
  "pki.key_deleted",
  "ratelimit.refused",
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** `details.reason` of an `auth.failed` event. */
export const AUTH_FAILURE_REASONS = [
  "unknown_key",
  "wrong_secret",
  "bad_signature",
  "replayed_nonce",
  "stale_timestamp",
  "wrong_ip",
  "disabled_key",
  "expired_key",
  "bad_token",
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export const AUDIT_LIST_MAX_LIMIT = 1000;
export const AUDIT_LIST_DEFAULT_LIMIT = 100;
/** An opaque cursor is short; anything longer is not one the server gave out. */
export const AUDIT_CURSOR_MAX_LENGTH = 256;

/** Whether `s` names an audit event type. */
export function isAuditEventType(s: string): s is AuditEventType {
  return (AUDIT_EVENT_TYPES as readonly string[]).includes(s);
}
