export { banner } from "./banner";
export { type RunningSystem, type SystemOptions, startSystem } from "./system";
export { type DistributedSystem, startDistributed } from "./distributed-launcher";
