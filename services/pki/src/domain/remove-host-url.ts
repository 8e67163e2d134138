import { changeHostUrl } from "./change-host-url";
import type { Host } from "./entities";
import type { PkiDeps } from "./ports";

export function removeHostUrl(deps: PkiDeps, input: { instanceId: string; hostUrl: string }): Promise<Host> {
  return changeHostUrl(deps, input, "url_removed");
}
