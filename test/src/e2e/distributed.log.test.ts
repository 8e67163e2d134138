import { logSuite } from "./log.suite";

logSuite("distributed");
