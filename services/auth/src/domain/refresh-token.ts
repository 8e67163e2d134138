import { hash } from "node:crypto";
import { randomBase64url } from "@pkiserver/kit/core";

/*
 * Refresh tokens are `<sessionId>.<32 random bytes, base64url>`: opaque to
 * clients, found by session id, and stored only as a SHA-256 hash.
 */

const SESSION_ID_RE = /^[A-Za-z0-9_-]{22}$/;
const TOKEN_RE = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/;

export function newSessionId(): string {
  return randomBase64url(16);
}

export function isSessionId(id: string): boolean {
  return SESSION_ID_RE.test(id);
}

export function newRefreshToken(sessionId: string): { token: string; hash: string } {
  const token = `${sessionId}.${randomBase64url(32)}`;
  return { token, hash: hashRefreshToken(token) };
}

export function hashRefreshToken(token: string): string {
  // One-shot: a string is hashed as its UTF-8 bytes.
  return hash("sha256", token, "base64url");
}

/** The session id a refresh token belongs to, or undefined when it is not one of ours. */
export function parseRefreshToken(token: string): { sessionId: string; hash: string } | undefined {
  if (token.length > 128) return undefined;
  const m = TOKEN_RE.exec(token);
  if (!m) return undefined;
  return { sessionId: m[1] as string, hash: hashRefreshToken(token) };
}
