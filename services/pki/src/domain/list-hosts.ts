import type { Host } from "./entities";
import type { PkiDeps } from "./ports";

export function listHosts(deps: PkiDeps): Promise<Host[]> {
  return deps.hosts.list();
}
