import { fields } from "@pkiserver/contract";
import { keyNamedBy, refuseCredential } from "./credential-refusal";
import {
  type ApiKeyRecord,
  type ApiKeyView,
  credentialGenerationOf,
  previousCredentialWorks,
  toView,
} from "./entities";
import type { ApiKeyDeps, AuthAttempt } from "./ports";

export interface VerifySecretInput {
  apiKeyId: string;
  secret: string;
  /** Who presented the secret, for the audit record of a refusal. */
  attempt?: AuthAttempt | undefined;
}

/** A verified key, with the generation of the credential that matched. */
export type VerifiedKey = ApiKeyView & { readonly matchedGeneration: number };

/**
 * Client credentials: only enabled secret-type keys, secret compared in
 * constant time with the newest secret and, during a rotation's grace
 * period, with the previous one. Every refusal is the same error; its
 * verdict (wrong secret, a rotated-away secret, a disabled key) is reported.
 */
export async function verifySecret(deps: ApiKeyDeps, input: VerifySecretInput): Promise<VerifiedKey> {
  const key = await keyNamedBy(deps, input.apiKeyId, input.attempt);
  const now = deps.clock.now();
  const matched = secretGeneration(deps, key, input.secret, now);
  if (matched === undefined || matched === "expired") {
    const reason = matched === "expired" ? "expired_key" : "wrong_secret";
    throw refuseCredential(deps, reason, key.id, input.attempt, now);
  }
  // Only the holder of a right credential learns nothing more from this than from any refusal.
  if (!key.enabled) throw refuseCredential(deps, "disabled_key", key.id, input.attempt, now);
  return { matchedGeneration: matched, ...toView(key, now) };
}

/**
 * Which of the key's secrets `secret` is: the newest one's generation, the
 * previous one's while its grace period lasts, "expired" for a previous one
 * whose grace period is over, or undefined.
 */
function secretGeneration(
  deps: ApiKeyDeps,
  key: ApiKeyRecord,
  secret: string,
  now: number,
): number | "expired" | undefined {
  if (key.type !== "secret" || key.sealedSecret === undefined || secret.length > fields.SECRET_MAX_LENGTH)
    return undefined;
  const generation = credentialGenerationOf(key);
  if (deps.secrets.matches(key.sealedSecret, secret, key.id)) return generation;
  if (key.previousSealedSecret !== undefined && deps.secrets.matches(key.previousSealedSecret, secret, key.id)) {
    return previousCredentialWorks(key, now) ? generation - 1 : "expired";
  }
  return undefined;
}
