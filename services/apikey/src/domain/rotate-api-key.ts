import { invalidParams, normaliseEd25519PublicKey } from "@pkiserver/kit/core";
import { PUBLIC_KEY_MAX_LENGTH } from "./add-api-key";
import { type ApiKeyRecord, credentialGenerationOf, newApiKeySecret } from "./entities";
import { manageApiKey } from "./manage-api-key";
import type { ApiKeyDeps, CredentialRotation } from "./ports";
import { checkClientSecret } from "./validation";

/** 30 days: the longest a previous credential may keep working (API.md section 10). */
export const MAX_GRACE_PERIOD_MS = 2_592_000_000;
/** 24 hours. */
export const DEFAULT_GRACE_PERIOD_MS = 86_400_000;

export interface RotateApiKeyInput {
  apiKeyId: string;
  clientSecret?: string | undefined;
  clientPublicKey?: string | undefined;
  /** Absent: DEFAULT_GRACE_PERIOD_MS. */
  gracePeriod?: number | undefined;
  /** Scopes the caller holds: it must hold every scope of the key. */
  callerScope: readonly string[];
}

export interface RotateApiKeyResult {
  apiKeyId: string;
  previousCredentialExpiresAt: number;
  /** Only a secret the server generated: this is the one time it is shown. */
  clientSecret?: string;
}

/**
 * Gives a key a new credential of its own type (API.md section 10). The
 * credential it replaces keeps working until the grace period ends; one
 * replaced before that is dropped at once, so a key never has more than two.
 */
export async function rotateApiKey(deps: ApiKeyDeps, input: RotateApiKeyInput): Promise<RotateApiKeyResult> {
  const gracePeriod = input.gracePeriod ?? DEFAULT_GRACE_PERIOD_MS;
  if (!Number.isSafeInteger(gracePeriod) || gracePeriod < 0 || gracePeriod > MAX_GRACE_PERIOD_MS) {
    throw invalidParams(`gracePeriod -> Invalid value! Expected 0..${MAX_GRACE_PERIOD_MS}`);
  }
  if (input.clientSecret !== undefined) {
    checkClientSecret(input.clientSecret);
  }
  const pem = input.clientPublicKey === undefined ? undefined : parsePublicKey(input.clientPublicKey);
  let generated: string | undefined;
  const changed = await manageApiKey(deps, input.apiKeyId, input.callerScope, (current, guard) => {
    // The key's type decides which field belongs; checked once the caller may see that the key exists.
    const next = nextCredential(deps, current, input.clientSecret, pem);
    if (next.generated !== undefined) generated = next.generated;
    const now = deps.clock.now();
    const rotation: CredentialRotation = {
      fromGeneration: credentialGenerationOf(current),
      ...next.credential,
      previousSealedSecret: current.sealedSecret,
      previousClientPublicKey: current.clientPublicKey,
      previousCredentialExpiresAt: now + gracePeriod,
    };
    return deps.store.rotateCredential(current.id, rotation, guard);
  });
  await deps.events.rotated(changed.after, deps.clock.now());
  return {
    apiKeyId: changed.after.id,
    previousCredentialExpiresAt: changed.after.previousCredentialExpiresAt ?? 0,
    ...(generated === undefined ? {} : { clientSecret: generated }),
  };
}

function parsePublicKey(given: string): string {
  const pem = given.length <= PUBLIC_KEY_MAX_LENGTH ? normaliseEd25519PublicKey(given) : undefined;
  if (pem === undefined) throw invalidParams("clientPubKey -> Expected an Ed25519 public key in SPKI PEM");
  return pem;
}

function nextCredential(
  deps: Pick<ApiKeyDeps, "secrets">,
  key: ApiKeyRecord,
  clientSecret: string | undefined,
  pem: string | undefined,
): { credential: Pick<CredentialRotation, "sealedSecret" | "clientPublicKey">; generated?: string } {
  if (key.type === "secret") {
    if (pem !== undefined) throw invalidParams("Unexpected key 'clientPubKey'");
    const generated = clientSecret === undefined ? newApiKeySecret() : undefined;
    const secret = clientSecret ?? (generated as string);
    return {
      credential: { sealedSecret: deps.secrets.seal(secret, key.id) },
      ...(generated === undefined ? {} : { generated }),
    };
  }
  if (clientSecret !== undefined) throw invalidParams("Unexpected key 'clientSecret'");
  if (pem === undefined) throw invalidParams("Key 'clientPubKey' is required");
  return { credential: { clientPublicKey: pem } };
}
