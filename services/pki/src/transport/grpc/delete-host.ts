import type { pkiV1 } from "@pkiserver/proto";
import { deleteHost } from "../../domain/delete-host";
import type { PkiDeps } from "../../domain/ports";

export function deleteHostHandler(deps: PkiDeps) {
  return async (req: pkiV1.DeleteHostRequest): Promise<pkiV1.DeleteHostResponse> => {
    await deleteHost(deps, req);
    return {};
  };
}
