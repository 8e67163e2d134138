import { fields } from "@pkiserver/contract";
import { AppError, constantTimeEqual } from "@pkiserver/kit/core";
import { type ApiKeyView, credentialGenerationOf, previousCredentialWorks, toView } from "./entities";
import { findApiKey } from "./get-api-key";
import type { ApiKeyDeps } from "./ports";

export interface VerifySecretInput {
  apiKeyId: string;
  secret: string;
}

/** A verified key, with the generation of the credential that matched. */
export type VerifiedKey = ApiKeyView & { readonly matchedGeneration: number };

/**
 * Client credentials: only enabled secret-type keys, secret compared in
 * constant time with the newest secret and, during a rotation's grace
 * period, with the previous one.
 */
export async function verifySecret(deps: ApiKeyDeps, input: VerifySecretInput): Promise<VerifiedKey> {
  const key = await findApiKey(deps, input.apiKeyId);
  if (key.type !== "secret" || key.sealedSecret === undefined || !key.enabled) {
    throw new AppError("auth.invalid_credentials");
  }
  const now = deps.clock.now();
  if (input.secret.length > fields.SECRET_MAX_LENGTH) throw new AppError("auth.invalid_credentials");
  const generation = credentialGenerationOf(key);
  if (constantTimeEqual(input.secret, deps.secrets.open(key.sealedSecret, key.id))) {
    return { ...toView(key, now), matchedGeneration: generation };
  }
  if (
    key.previousSealedSecret !== undefined &&
    previousCredentialWorks(key, now) &&
    constantTimeEqual(input.secret, deps.secrets.open(key.previousSealedSecret, key.id))
  ) {
    return { ...toView(key, now), matchedGeneration: generation - 1 };
  }
  throw new AppError("auth.invalid_credentials");
}
