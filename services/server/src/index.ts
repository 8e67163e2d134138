export { banner } from "./banner";
export { effectiveConfig, loadComponentConfigs, loadSystemConfig, type SystemConfig } from "./config";
export { DevCertificateAuthority, type PemPair, writeDevTls } from "./dev-certs";
export {
  type DistributedSystem,
  freePort,
  type ProcessName,
  startDistributed,
  stopProcess,
} from "./distributed-launcher";
export { type RunningSystem, type ServiceName, type SystemOptions, startSystem } from "./system";
