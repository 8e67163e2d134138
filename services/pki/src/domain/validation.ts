import { fields, object } from "@pkiserver/contract";
import { invalidParams } from "@pkiserver/kit/core";
import type { KeyRef } from "./entities";

// The gateway validates parameters first; the service checks again, with the
// same schemas (the contract package), because its gRPC port has other callers
// and its stores rely on these bounds.

const keyRef = object(fields.keyRef);

export function checkPubKey(field: string, value: string): string {
  return fields.pubKey.parse(value, [field]);
}

export const checkHostUrl = (value: string): string => fields.hostUrl.parse(value, ["hostUrl"]);

export function checkRef(ref: KeyRef): KeyRef {
  return keyRef.parse(ref, []);
}

export function checkDate(date: number): number {
  return fields.date.parse(date, ["date"]);
}

// Refuses parsing anything far beyond the limit, so a hostile value costs little.
const MAX_RAW_CUSTOM_DATA_CHARS = 16 * fields.CUSTOM_DATA_MAX_BYTES;

/**
 * Parses caller JSON (gRPC carries it as text) and returns it serialised
 * compactly, within the contract's bound.
 */
export function checkCustomData(json: string): string {
  if (json.length > MAX_RAW_CUSTOM_DATA_CHARS) throw invalidParams(`customData -> ${tooLong(json.length)}`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw invalidParams("customData -> Expected JSON");
  }
  return fields.customData.parse(value, ["customData"]);
}

function tooLong(size: number): string {
  return `Serialised value too long! Expected max ${fields.CUSTOM_DATA_MAX_BYTES} bytes, get ${size}`;
}
