import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { removeHostUrl } from "../../domain/remove-host-url";

export function removeHostUrlHandler(deps: PkiDeps) {
  return async (req: pkiV1.RemoveHostUrlRequest): Promise<pkiV1.RemoveHostUrlResponse> => {
    await removeHostUrl(deps, req);
    return {};
  };
}
