import { type ApiKeyView, toView } from "./entities";
import type { ApiKeyDeps } from "./ports";

export async function listApiKeys(deps: ApiKeyDeps): Promise<ApiKeyView[]> {
  const now = deps.clock.now();
  return (await deps.store.list()).map((r) => toView(r, now));
}
