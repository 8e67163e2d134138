export { BODY_LIMIT, buildGateway, type GatewayOptions } from "./app";
export type { Caller, Credentials } from "./auth/authenticate";
export { createServiceClients, type ServiceClients } from "./clients";
export { type GatewayConfig, GatewayConfigError, loadConfig } from "./config";
export { GatewayMetrics } from "./http/metrics";
export {
  type CounterStore,
  DEFAULT_RATE_LIMITS,
  MemoryCounterStore,
  RateLimiter,
  TIERS,
  type Tier,
  type WindowDecision,
} from "./http/rate-limit";
export { RedisCounterStore } from "./http/redis-counter-store";
export { MAX_BATCH } from "./rpc/dispatch";
export { lookupMethod, METHOD_NAMES, type MethodDef } from "./rpc/methods";
