import { ALL_SCOPES, createLogger, type ServiceRegistration } from "@pkiserver/kit";
import { addApiKey } from "../domain/add-api-key";
import { deleteApiKey } from "../domain/delete-api-key";
import { credentialGenerationOf } from "../domain/entities";
import type { ApiKeyDeps } from "../domain/ports";
import { rotateApiKey } from "../domain/rotate-api-key";
import { updateApiKey } from "../domain/update-api-key";
import { apiKeyService } from "../transport/grpc/service";
import { makeDeps, type RecordingEvents } from "./fixtures";

export interface InProcessKey {
  /** A secret key's secret; absent with `publicKeyPem`. */
  secret?: string;
  /** An Ed25519 key's SPKI PEM; the key is a public-key key. */
  publicKeyPem?: string;
  maxScope: readonly string[];
  /** False: the key is disabled once added. */
  enabled?: boolean;
}

/**
 * The real apikey service (its gRPC handlers, use cases and memory stores) in
 * this process, for the unit tests of a service that calls it (auth): a client
 * made for `registration` calls it in process, as the one-process form does.
 * Keys are managed with apikey's own use cases, as a caller holding every scope.
 */
export interface InProcessApiKeyService {
  readonly registration: ServiceRegistration;
  readonly deps: ApiKeyDeps & { readonly events: RecordingEvents };
  /** Adds a key; returns its id. */
  add(key: InProcessKey): Promise<string>;
  update(apiKeyId: string, patch: { enabled?: boolean; maxScope?: readonly string[] }): Promise<void>;
  delete(apiKeyId: string): Promise<void>;
  /**
   * Gives a secret key a new secret; the old one works for `gracePeriod` ms.
   * Answers what apikey's `rotated` event carries.
   */
  rotate(
    apiKeyId: string,
    clientSecret: string,
    gracePeriod: number,
  ): Promise<{ credentialGeneration: number; previousCredentialExpiresAt: number }>;
}

/** `now`: apikey's clock, usually the test's own (a clock that moves only when told to). */
export function inProcessApiKeyService(opts: { now: () => number }): InProcessApiKeyService {
  const deps = { ...makeDeps(), clock: { now: opts.now } };
  const registration = apiKeyService(deps, createLogger({ name: "apikey", level: "silent" }), undefined);
  const callerScope = ALL_SCOPES;
  return {
    registration,
    deps,
    async add(key) {
      const { apiKeyId } = await addApiKey(deps, {
        name: "",
        type: key.publicKeyPem === undefined ? "secret" : "pubKey",
        clientSecret: key.secret,
        clientPublicKey: key.publicKeyPem,
        maxScope: key.maxScope,
        callerScope,
      });
      if (key.enabled === false) await updateApiKey(deps, { apiKeyId, enabled: false, callerScope });
      return apiKeyId;
    },
    async update(apiKeyId, patch) {
      await updateApiKey(deps, { apiKeyId, ...patch, callerScope });
    },
    delete: (apiKeyId) => deleteApiKey(deps, { apiKeyId, callerScope }),
    async rotate(apiKeyId, clientSecret, gracePeriod) {
      const { previousCredentialExpiresAt } = await rotateApiKey(deps, {
        apiKeyId,
        clientSecret,
        gracePeriod,
        callerScope,
      });
      const record = await deps.store.get(apiKeyId);
      if (record === undefined) throw new Error(`key ${apiKeyId} vanished in its rotation`);
      return { credentialGeneration: credentialGenerationOf(record), previousCredentialExpiresAt };
    },
  };
}
