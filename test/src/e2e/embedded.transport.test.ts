import { describeOnForm } from "./auth.suite";
import { transportSuite } from "./transport.suite";

describeOnForm("embedded form: transport", "embedded", transportSuite);
