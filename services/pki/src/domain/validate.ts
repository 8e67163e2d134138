import { invalidParams } from "@pkiserver/kit";
import { type KeyRef, MAX_CUSTOM_DATA_BYTES } from "./entities";
import { isValidPubKey } from "./pubkey";

// The gateway validates parameters first; the service checks again because its
// gRPC port has other callers and its stores rely on these bounds.

export function checkLength(field: string, value: string, min: number, max: number): string {
  if (typeof value !== "string") throw invalidParams(`${field} -> Expected string`);
  if (value.length < min) throw invalidParams(`${field} -> Invalid length! Expected min ${min}, get ${value.length}`);
  if (value.length > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${value.length}`);
  return value;
}

export function checkPubKey(field: string, value: string): string {
  if (!isValidPubKey(value)) throw invalidParams(`${field} -> Invalid public key`);
  return value;
}

export const checkHostUrl = (value: string): string => checkLength("hostUrl", value, 3, 2048);

export function checkRef(ref: KeyRef): KeyRef {
  return {
    userId: checkLength("userId", ref.userId, 3, 128),
    instanceId: checkPubKey("instanceId", ref.instanceId),
    contextId: checkLength("contextId", ref.contextId, 3, 128),
  };
}

export function checkDate(date: number): number {
  if (!Number.isSafeInteger(date) || date < 0) throw invalidParams("date -> Expected integer in range [0,∞]");
  return date;
}

// Refuses parsing anything far beyond the limit, so a hostile value costs little.
const MAX_RAW_CUSTOM_DATA_CHARS = 16 * MAX_CUSTOM_DATA_BYTES;

/** Parses caller JSON and returns it serialised compactly, at most 4 KiB. */
export function checkCustomData(json: string): string {
  if (json.length > MAX_RAW_CUSTOM_DATA_CHARS) throw tooLarge(Buffer.byteLength(json, "utf8"));
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalidParams("customData -> Expected JSON");
  }
  const serialised = JSON.stringify(value);
  const size = Buffer.byteLength(serialised, "utf8");
  if (size > MAX_CUSTOM_DATA_BYTES) throw tooLarge(size);
  return serialised;
}

function tooLarge(size: number): Error {
  return invalidParams(`customData -> Too large! Expected at most ${MAX_CUSTOM_DATA_BYTES} bytes, get ${size}`);
}
