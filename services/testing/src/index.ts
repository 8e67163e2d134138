// Test support shared by the packages' tests: the real services in one process
// with memory stores behind a gateway on port 0. Never imported by production code.

export type { PkiAppOptions, PkiStores } from "@pkiserver/pki";
export { startApiKeyService, type TestApiKeyService } from "./apikey";
export { recordEvents } from "./events";
export { type HttpReply, httpReply, post, rpc, VALID_KEY_1, VALID_KEY_2 } from "./http";
export {
  addTestKey,
  INITIALIZATION_TOKEN,
  issueTestToken,
  startTestSystem,
  type TestKey,
  type TestKeyOptions,
  type TestSystem,
  type TestSystemOptions,
  withTestSystem,
} from "./system";
export { type RecordedCall, type Tap, tapRegistration } from "./tap";
export { callingAs, EVERY_SCOPE, testTokens } from "./tokens";
