import { logSuite } from "./log.suite";

logSuite("embedded");
