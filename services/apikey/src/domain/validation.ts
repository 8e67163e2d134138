import { fields } from "@pkiserver/contract";
import type { KeyRateLimits } from "./entities";

/*
 * The gateway validates parameters first; the service checks again with the
 * same fields (the contract package), because its gRPC port has other
 * callers: one bound and one message per field wherever it is checked.
 */

export const checkName = (value: string): string => fields.name.parse(value, ["name"]);

export const checkClientSecret = (value: string): string => fields.clientSecret.parse(value, ["clientSecret"]);

export const checkMaxScope = (value: readonly string[]): string[] => fields.scopeList.parse(value, ["maxScope"]);

/** A key's own rate limits: known tiers only, integers 1..1,000,000; undefined when none is set. */
export function checkRateLimits(input: Readonly<Record<string, number | undefined>>): KeyRateLimits | undefined {
  const parsed = fields.rateLimits.parse(input, ["rateLimits"]);
  const out: KeyRateLimits = {};
  for (const tier of fields.RATE_LIMIT_TIERS) {
    const value = parsed[tier];
    if (value !== undefined) out[tier] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
