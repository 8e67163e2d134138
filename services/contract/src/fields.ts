import { nonceProblem } from "@pkiserver/kit/core";
import { array, integer, json, object, optional, pubKey as pubKeySchema, refine, string } from "./schema";

/*
 * Every parameter of the public API, defined once (types and ranges of the
 * method reference, API.md section 2). The gateway validates JSON-RPC params
 * with these; the services validate their gRPC requests with the same ones,
 * so a bound and its message are the same on both sides of the hop.
 */

export const userId = string(3, 128);
export const contextId = string(3, 128);
export const hostUrl = string(3, 2048);
export const apiKeyId = string(3, 128);
/** An API key's display name. */
export const name = string(0, 128);
/** A base58check compressed secp256k1 public key: `hostPubKey`, `userPubKey`, `instanceId`. */
export const pubKey = pubKeySchema();
/** Milliseconds since the epoch. */
export const date = integer();

/** At most this many scope entries in a request or a key's maxScope. */
export const MAX_SCOPE_ENTRIES = 128;
/** A scope entry is a short word or modifier (`session:NAME`, `ipAddr:ADDR`); the bound keeps input finite. */
export const MAX_SCOPE_ENTRY_LENGTH = 256;
export const scopeList = array(string(0, MAX_SCOPE_ENTRY_LENGTH), 0, MAX_SCOPE_ENTRIES);

export const CUSTOM_DATA_MAX_BYTES = 4096;
/** Any JSON value, at most 4 KiB serialised; parsed to its serialised form. */
export const customData = json(CUSTOM_DATA_MAX_BYTES);

export const SECRET_MIN_LENGTH = 32;
export const SECRET_MAX_LENGTH = 256;
export const clientSecret = string(SECRET_MIN_LENGTH, SECRET_MAX_LENGTH);
/** An Ed25519 public key in SPKI PEM. */
export const clientPubKey = string(1, 4096);
export const initializationToken = string(1, 1024);
/** How long a rotated-away credential keeps working, ms: at most 30 days (API.md section 10). */
export const MAX_GRACE_PERIOD_MS = 2_592_000_000;
export const gracePeriod = integer(0, MAX_GRACE_PERIOD_MS);

/** Access and refresh tokens are at most 1024 characters (API.md section 5). */
export const MAX_TOKEN_LENGTH = 1024;
export const refreshToken = string(0, MAX_TOKEN_LENGTH);
export const accessToken = string(0, MAX_TOKEN_LENGTH);
export const sessionName = string(0, 128);
export const sessionId = string(1, 128);

export const clientId = string(3, 128);
export const signature = string(0, 4096);
export const timestamp = integer();
/** 1..64 characters of the base64 alphabets, so a signed string splits one way only (API.md section 3). */
export const nonce = refine(string(0, 64), nonceProblem);
/** The optional `data` a `client_signature` grant signs. */
export const grantData = string(0, 512);

/** The three parts that name one key history. */
export const keyRef = { userId, instanceId: pubKey, contextId };

/** A key's own requests-per-minute limit for one tier (API.md section 9). */
export const MAX_RATE_LIMIT = 1_000_000;
export const rateLimit = integer(1, MAX_RATE_LIMIT);
/** The gateway's rate-limit tiers (API.md section 9). */
export const RATE_LIMIT_TIERS = ["pki", "pkiadmin", "user", "audit", "auth"] as const;
/** A key's own limits by tier, on user/addApiKey and user/updateApiKey; tiers left out follow the defaults. */
export const rateLimits = object({
  pki: optional(rateLimit),
  pkiadmin: optional(rateLimit),
  user: optional(rateLimit),
  audit: optional(rateLimit),
  auth: optional(rateLimit),
});
