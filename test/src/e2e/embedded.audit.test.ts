import { auditSuite } from "./audit.suite";
import { describeOnForm } from "./auth.suite";

describeOnForm("embedded form: audit log", "embedded", auditSuite);
