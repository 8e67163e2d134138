export { banner } from "./banner";
export { DevCertificateAuthority, type PemPair, writeDevTls } from "./dev-certs";
export { type DistributedSystem, freePort, type ProcessName, startDistributed } from "./distributed-launcher";
export { type RunningSystem, type ServiceName, type SystemOptions, startSystem } from "./system";
