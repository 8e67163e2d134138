import type { pkiV1 } from "@pkiserver/proto";
import type { TransparencyLog } from "../../domain/transparency";

export function getCheckpointHandler(log: TransparencyLog) {
  return async (_req: pkiV1.GetCheckpointRequest): Promise<pkiV1.GetCheckpointResponse> => {
    const c = await log.checkpoint();
    return {
      checkpoint: c.note,
      origin: c.origin,
      treeSize: c.size,
      rootHash: Buffer.from(c.root),
      headMapRoot: Buffer.from(c.headMapRoot),
      verifierKey: c.verifierKey,
    };
  };
}
