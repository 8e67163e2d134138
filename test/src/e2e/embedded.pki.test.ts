import { describeOnForm } from "./auth.suite";
import { pkiSuite } from "./pki.suite";

describeOnForm("embedded form: PKI", "embedded", pkiSuite);
