import { ALL_SCOPES, AppError, SecretBox, settledCode } from "@pkiserver/kit";
import { type AddApiKeyInput, addApiKey } from "../domain/add-api-key";
import type { ApiKeyRecord } from "../domain/entities";
import type { ApiKeyDeps, ApiKeyEvents, CredentialRefusal } from "../domain/ports";
import { MemoryApiKeyStore } from "../storage/memory-api-key-store";
import { MemoryNonceStore } from "../storage/memory-nonce-store";

export type RecordedEvent =
  | { type: "created"; key: ApiKeyRecord; at: number }
  | { type: "updated"; before: ApiKeyRecord; after: ApiKeyRecord; at: number }
  | { type: "deleted"; apiKeyId: string; at: number }
  | { type: "rotated"; after: ApiKeyRecord; at: number }
  | ({ type: "refused" } & CredentialRefusal);

export class RecordingEvents implements ApiKeyEvents {
  readonly events: RecordedEvent[] = [];
  async created(key: ApiKeyRecord, at: number) {
    this.events.push({ type: "created", key, at });
  }
  async updated(before: ApiKeyRecord, after: ApiKeyRecord, at: number) {
    this.events.push({ type: "updated", before, after, at });
  }
  async deleted(apiKeyId: string, at: number) {
    this.events.push({ type: "deleted", apiKeyId, at });
  }
  async rotated(after: ApiKeyRecord, at: number) {
    this.events.push({ type: "rotated", after, at });
  }
  credentialRefused(refusal: CredentialRefusal) {
    this.events.push({ type: "refused", ...refusal });
  }
  /** The verdicts reported so far, oldest first. */
  get refusals(): CredentialRefusal[] {
    return this.events.flatMap((e) => {
      if (e.type !== "refused") return [];
      const { type: _type, ...refusal } = e;
      return [refusal];
    });
  }
}

export interface TestDeps extends ApiKeyDeps {
  readonly store: MemoryApiKeyStore;
  readonly events: RecordingEvents;
  readonly clock: { now(): number; set(ms: number): void };
}

export const INIT_TOKEN = "initialization-token-for-tests";

/** In-memory deps with a clock that only moves when told to. */
export function makeDeps(opts: { initializationToken?: string | undefined; now?: number } = {}): TestDeps {
  let now = opts.now ?? 1_750_000_000_000;
  return {
    store: new MemoryApiKeyStore(),
    nonces: new MemoryNonceStore(),
    events: new RecordingEvents(),
    clock: { now: () => now, set: (ms) => (now = ms) },
    secrets: SecretBox.ephemeral(),
    initializationToken: "initializationToken" in opts ? opts.initializationToken : INIT_TOKEN,
  };
}

/** The catalogue code a promise rejects with ("ok" when it resolves). */
export const codeOf = settledCode;

/** The `data` of the AppError a promise rejects with. */
export async function errorData(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.data;
    throw err;
  }
  throw new Error("expected a rejection");
}

export const SECRET = "a-client-secret-of-more-than-32-characters";

/** The Ed25519 key of API.md section 3's vectors. */
export const ED25519_PUBLIC_PEM =
  "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEADsSTjY2wnm1iwWamIWwLTPVhtTIb8TVlI8tts3wkhkQ=\n-----END PUBLIC KEY-----\n";
export const ED25519_PRIVATE_PEM =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOBVFGaSFtfqbNvZWctFKg3k+I0T5YXRavpKAD9+BgCX\n-----END PRIVATE KEY-----\n";

/**
 * Adds a secret key (unnamed, no maxScope, by a caller holding every scope,
 * unless `over` says otherwise) and returns its id.
 */
export async function addSecretKey(
  deps: ApiKeyDeps,
  over: Partial<Pick<AddApiKeyInput, "name" | "clientSecret" | "maxScope" | "callerScope">> = {},
): Promise<string> {
  const input: AddApiKeyInput = {
    name: "",
    type: "secret",
    clientSecret: SECRET,
    maxScope: [],
    callerScope: [...ALL_SCOPES],
    ...over,
  };
  return (await addApiKey(deps, input)).apiKeyId;
}
