import { type ApiKeyView, toView } from "./api-key";
import type { ApiKeyDeps } from "./ports";

export async function listApiKeys(deps: ApiKeyDeps): Promise<ApiKeyView[]> {
  return (await deps.store.list()).map(toView);
}
