import { invalidParams } from "@pkiserver/kit/core";
import { type KeyRateLimits, RATE_LIMIT_MAX, RATE_LIMIT_TIERS, type RateLimitTier } from "./entities";

/** `-32602` in the contract's wording when `value` is outside [min, max] characters. */
export function checkLength(field: string, value: string, min: number, max: number): void {
  if (value.length < min) throw invalidParams(`${field} -> Invalid length! Expected min ${min}, get ${value.length}`);
  if (value.length > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${value.length}`);
}

export function checkListLength(field: string, list: readonly unknown[], max: number): void {
  if (list.length > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${list.length}`);
}

/** A key's own rate limits: known tiers only, integers 1..1,000,000; undefined when none is set. */
export function checkRateLimits(input: Readonly<Record<string, number | undefined>>): KeyRateLimits | undefined {
  const out: KeyRateLimits = {};
  for (const [tier, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (!(RATE_LIMIT_TIERS as readonly string[]).includes(tier)) throw invalidParams(`Unexpected key '${tier}'`);
    if (!Number.isInteger(value) || value < 1 || value > RATE_LIMIT_MAX) {
      throw invalidParams(`rateLimits -> ${tier} -> Expected an integer from 1 to ${RATE_LIMIT_MAX}`);
    }
    out[tier as RateLimitTier] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}
