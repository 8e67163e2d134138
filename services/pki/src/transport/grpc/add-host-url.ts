import type { pkiV1 } from "@pkiserver/proto";
import { addHostUrl } from "../../domain/add-host-url";
import type { PkiDeps } from "../../domain/ports";

export function addHostUrlHandler(deps: PkiDeps) {
  return async (req: pkiV1.AddHostUrlRequest): Promise<pkiV1.AddHostUrlResponse> => {
    await addHostUrl(deps, req);
    return {};
  };
}
