import { AppError, constantTimeEqual } from "@pkiserver/kit/core";
import { type ApiKeyView, SECRET_MAX_LENGTH, toView } from "./api-key";
import { findApiKey } from "./get-api-key";
import type { ApiKeyDeps } from "./ports";

export interface VerifySecretInput {
  apiKeyId: string;
  secret: string;
}

/** Client credentials: only enabled secret-type keys, secret compared in constant time. */
export async function verifySecret(deps: ApiKeyDeps, input: VerifySecretInput): Promise<ApiKeyView> {
  const key = await findApiKey(deps, input.apiKeyId);
  if (key.type !== "secret" || key.sealedSecret === undefined || !key.enabled) {
    throw new AppError("auth.invalid_credentials");
  }
  const stored = deps.secrets.open(key.sealedSecret, key.id);
  if (input.secret.length > SECRET_MAX_LENGTH || !constantTimeEqual(input.secret, stored)) {
    throw new AppError("auth.invalid_credentials");
  }
  return toView(key);
}
