import { invalidParams } from "@pkiserver/kit/core";
import type { pkiV1 } from "@pkiserver/proto";
import { checkLogIndex } from "../../domain/log-params";
import type { TransparencyLog } from "../../domain/transparency";

export function getLogTileHandler(log: TransparencyLog) {
  return async (req: pkiV1.GetLogTileRequest): Promise<pkiV1.GetLogTileResponse> => {
    if (!Number.isInteger(req.level) || req.level < -1 || req.level > 63)
      throw invalidParams("level -> Expected -1..63");
    if (!Number.isInteger(req.width) || req.width < 1 || req.width > 256)
      throw invalidParams("width -> Expected 1..256");
    const index = checkLogIndex("index", req.index);
    const data = await log.tile({ level: req.level === -1 ? "entries" : req.level, index, width: req.width });
    return data === undefined ? { found: false, data: Buffer.alloc(0) } : { found: true, data: Buffer.from(data) };
  };
}
