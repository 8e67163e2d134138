import type { PkiDeps } from "./ports";
import { checkHostUrl, checkPubKey } from "./validation";

/** True iff the host with this public key exists and has the URL. */
export async function verifyHostByPub(deps: PkiDeps, input: { hostPubKey: string; hostUrl: string }): Promise<boolean> {
  const hostPubKey = checkPubKey("hostPubKey", input.hostPubKey);
  const hostUrl = checkHostUrl(input.hostUrl);
  // The URL's owner is one lookup by a unique key, and settles the question
  // whatever other URLs the host has.
  const host = await deps.hosts.findByUrl(hostUrl);
  return host?.hostPubKey === hostPubKey;
}
