import { AppError } from "@pkiserver/kit/core";
import type { TransparencyLog } from "../domain/transparency";

const unavailable = () => new AppError("rpc.internal", { internal: "the transparency log has no MongoDB adapter yet" });

/** Stands in where the log has no adapter: writes go on unlogged, reads of the log fail. */
export class UnavailableTransparencyLog implements TransparencyLog {
  async appendKeyRecord(): Promise<void> {}
  async appendHostChange(): Promise<void> {}
  async sequence(): Promise<void> {}
  checkpoint(): never {
    throw unavailable();
  }
  inclusionProof(): never {
    throw unavailable();
  }
  consistencyProof(): never {
    throw unavailable();
  }
  keyProof(): never {
    throw unavailable();
  }
  tile(): never {
    throw unavailable();
  }
}
