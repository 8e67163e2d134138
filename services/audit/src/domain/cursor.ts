import { invalidParams } from "@pkiserver/kit/core";
import type { AuditOrder, AuditPosition } from "./entities";

/*
 * A cursor is opaque to clients: base64url of the order it was made for and
 * the last position of the page. A cursor altered by hand can only move the
 * page to another place in the same, already authorised, filter.
 */

export function encodeCursor(order: AuditOrder, at: AuditPosition): string {
  return Buffer.from(JSON.stringify([order === "newest" ? "n" : "o", at.time, at.id]), "utf8").toString("base64url");
}

export function decodeCursor(order: AuditOrder, cursor: string): AuditPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalidCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== (order === "newest" ? "n" : "o") ||
    !Number.isSafeInteger(parsed[1]) ||
    typeof parsed[2] !== "string" ||
    parsed[2].length > 128
  ) {
    throw invalidCursor();
  }
  return { time: parsed[1] as number, id: parsed[2] };
}

function invalidCursor() {
  return invalidParams("cursor -> Invalid cursor");
}
