/**
 * The gRPC status codes (the numbers every gRPC implementation shares), so
 * the catalogue carries no gRPC library: domain code imports it.
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/**
 * The closed error catalogue. Every error the system can report has one
 * entry: its gRPC status between services and its JSON-RPC code and message
 * at the gateway. Codes and messages come from the method reference's error
 * tables; API.md overrides a message where it quotes a different one.
 */
type Entry = { readonly rpc: number; readonly message: string; readonly grpc: GrpcCode };

const e = (rpc: number, message: string, grpc: GrpcCode): Entry => ({ rpc, message, grpc });

export const ErrorCatalogue = {
  // JSON-RPC protocol errors.
  "rpc.parse_error": e(-32700, "Parse error", GrpcCode.INVALID_ARGUMENT),
  "rpc.invalid_request": e(-32600, "Invalid request", GrpcCode.INVALID_ARGUMENT),
  "rpc.method_not_found": e(-32601, "Method not found", GrpcCode.UNIMPLEMENTED),
  "rpc.invalid_params": e(-32602, "Invalid params", GrpcCode.INVALID_ARGUMENT),
  "rpc.internal": e(-32603, "Internal error", GrpcCode.INTERNAL),
  "rpc.not_yet_installed": e(-32604, "Not yet installed", GrpcCode.FAILED_PRECONDITION),
  "rpc.only_post": e(-32605, "Only post method allowed", GrpcCode.UNIMPLEMENTED),
  "rpc.too_many_requests": e(-32029, "Too many requests", GrpcCode.RESOURCE_EXHAUSTED),
  // API.md section 7: a backend the call needs is not ready, restarting or saturated.
  "rpc.unavailable": e(-32000, "Service unavailable", GrpcCode.UNAVAILABLE),

  // Common errors.
  "auth.unauthorized": e(14, "Unauthorized", GrpcCode.UNAUTHENTICATED),
  "auth.access_denied": e(1, "Access denied", GrpcCode.PERMISSION_DENIED),
  "auth.insufficient_role": e(45, "Insufficient role", GrpcCode.PERMISSION_DENIED),

  // Other errors of the reference's table (most belong to features this
  // server does not have; they are listed so the catalogue is the table).
  "auth.invalid_user_or_password": e(2, "Invalid user or password", GrpcCode.UNAUTHENTICATED),
  "user.email_in_use": e(3, "Email already in use", GrpcCode.ALREADY_EXISTS),
  "context.not_found": e(8, "Context does not exist", GrpcCode.NOT_FOUND),
  "context.user_not_found": e(9, "Context user does not exist", GrpcCode.NOT_FOUND),
  "user.not_found": e(10, "User does not exist", GrpcCode.NOT_FOUND),
  "user.token_not_found": e(11, "User token does not exist", GrpcCode.NOT_FOUND),
  "auth.invalid_credentials": e(12, "Invalid credentials", GrpcCode.UNAUTHENTICATED),
  "user.pub_key_in_use": e(15, "Pub key already in use", GrpcCode.ALREADY_EXISTS),
  "accesskey.not_found": e(16, "Access key does not exist", GrpcCode.NOT_FOUND),
  "accesskey.in_use": e(17, "Access key already in use", GrpcCode.ALREADY_EXISTS),
  "accesskey.access_denied": e(18, "Access denied to access key", GrpcCode.PERMISSION_DENIED),
  "instance.not_found": e(19, "Instance does not exist", GrpcCode.NOT_FOUND),
  "organization.not_found": e(20, "Organization does not exist", GrpcCode.NOT_FOUND),
  "solution.not_found": e(21, "Solution does not exist", GrpcCode.NOT_FOUND),
  "solution.instance_mismatch": e(22, "Instance does not match", GrpcCode.FAILED_PRECONDITION),
  "solution.has_contexts": e(23, "Solution has contexts", GrpcCode.FAILED_PRECONDITION),
  "context.cannot_assign_private": e(24, "Cannot assign private context", GrpcCode.FAILED_PRECONDITION),
  "context.cannot_unassign_parent": e(25, "Cannot unassign context from its parent", GrpcCode.FAILED_PRECONDITION),
  "context.cannot_switch_to_private": e(26, "Cannot switch connected context to private", GrpcCode.FAILED_PRECONDITION),
  "mail.log_not_found": e(30, "Mail log does not exist", GrpcCode.NOT_FOUND),
  "mail.template_exists": e(31, "Mail template already exists", GrpcCode.ALREADY_EXISTS),
  "mail.template_not_found": e(32, "Mail template does not exist", GrpcCode.NOT_FOUND),
  "mail.cannot_remove_template_lang": e(33, "Cannot remove mail template lang", GrpcCode.FAILED_PRECONDITION),
  "mail.not_found": e(34, "Mail does not exist", GrpcCode.NOT_FOUND),
  "auth.account_disabled": e(35, "Account disabled", GrpcCode.PERMISSION_DENIED),
  "auth.token_not_found": e(36, "Token does not exist", GrpcCode.NOT_FOUND),
  "auth.account_already_activated": e(37, "Account already activated", GrpcCode.FAILED_PRECONDITION),
  "organization.user_already_member": e(38, "User already in organization", GrpcCode.ALREADY_EXISTS),
  "organization.user_not_member": e(39, "User not in organization", GrpcCode.NOT_FOUND),
  "organization.user_has_organization": e(40, "User already has organization", GrpcCode.ALREADY_EXISTS),
  "invitation.exists": e(41, "Invitation already exists", GrpcCode.ALREADY_EXISTS),
  "invitation.not_found": e(42, "Invitation does not exist", GrpcCode.NOT_FOUND),
  "auth.account_not_activated": e(43, "Account not activated yet", GrpcCode.FAILED_PRECONDITION),
  "auth.open_registration_disabled": e(44, "Open registration disabled", GrpcCode.PERMISSION_DENIED),
  "auth.invalid_second_factor_secret": e(46, "Invalid second factor secret", GrpcCode.INVALID_ARGUMENT),
  "auth.cannot_send_second_factor_code": e(47, "Cannot send second factor code", GrpcCode.FAILED_PRECONDITION),
  "auth.second_factor_verification_failed": e(48, "Second factor verification failed", GrpcCode.UNAUTHENTICATED),
  "auth.second_factor_invalid_code": e(51, "Second factor invalid code", GrpcCode.UNAUTHENTICATED),
  "auth.second_factor_already_enabled": e(52, "Second factor already enabled", GrpcCode.FAILED_PRECONDITION),
  "auth.second_factor_already_disabled": e(53, "Second factor already disabled", GrpcCode.FAILED_PRECONDITION),
  "auth.not_in_second_factor_mode": e(54, "Not in second factor authorization mode", GrpcCode.FAILED_PRECONDITION),
  "auth.invalid_password": e(55, "Invalid Password", GrpcCode.UNAUTHENTICATED),
  "invitation.email_mismatch": e(56, "Email does not match the invitation", GrpcCode.FAILED_PRECONDITION),
  "auth.srp_not_enabled": e(57, "SRP not enabled for this account", GrpcCode.FAILED_PRECONDITION),
  "auth.authorization_code_not_found": e(58, "Authorization code does not exists", GrpcCode.NOT_FOUND),
  "rpc.websocket_only": e(59, "Method is callable with websocket only", GrpcCode.FAILED_PRECONDITION),
  "resource.manage_error": e(60, "Manage resource error", GrpcCode.FAILED_PRECONDITION),
  "rpc.last_id_not_found": e(61, "No match found for provided last id", GrpcCode.NOT_FOUND),
  "user.invalid_email": e(62, "Given email is invalid", GrpcCode.INVALID_ARGUMENT),
  "usage.resolution_exceeded": e(63, "Maximal api usage resolution exceeded", GrpcCode.INVALID_ARGUMENT),
  "license.not_found": e(64, "Given license does not exist", GrpcCode.NOT_FOUND),
  "license.expired": e(65, "Given license has expired", GrpcCode.FAILED_PRECONDITION),
  "license.not_activated": e(66, "License not yet activated", GrpcCode.FAILED_PRECONDITION),
  "auth.too_many_login_attempts": e(67, "Too many login attempts", GrpcCode.RESOURCE_EXHAUSTED),
  "auth.too_many_unsuccessful_login_attempts": e(
    68,
    "Too many unsuccessful login attepmts",
    GrpcCode.RESOURCE_EXHAUSTED,
  ),
  "auth.too_many_totp_attempts": e(69, "Too many totp attempts", GrpcCode.RESOURCE_EXHAUSTED),
  "auth.too_many_unsuccessful_totp_attempts": e(70, "Too many unsuccessful totp attempts", GrpcCode.RESOURCE_EXHAUSTED),

  // API keys, tokens and sessions.
  "apikey.not_found": e(71, "Api key does not exist", GrpcCode.NOT_FOUND),
  "apikey.too_many": e(72, "Too many api keys", GrpcCode.RESOURCE_EXHAUSTED),
  // API.md section 4 spells this message correctly; the reference's table has a typo.
  "auth.insufficient_scope": e(73, "Insufficient scope", GrpcCode.PERMISSION_DENIED),
  "auth.session_not_found": e(74, "Session does not exist or exipred", GrpcCode.NOT_FOUND),
  "auth.token_expired": e(75, "Token is expired or has been revoked", GrpcCode.UNAUTHENTICATED),
  "auth.token_invalid": e(76, "Token is invalid", GrpcCode.UNAUTHENTICATED),
  "auth.session_token_required": e(77, "Method callable with session scoped tokens only", GrpcCode.PERMISSION_DENIED),
  "user.id_not_found": e(78, "User does not exist", GrpcCode.NOT_FOUND),
  "apikey.first_key_exists": e(96, "First api key was already created", GrpcCode.ALREADY_EXISTS),
  "apikey.initialization_token_invalid": e(
    97,
    "Initialization token is invalid or not set",
    GrpcCode.PERMISSION_DENIED,
  ),

  // PKI.
  "pki.no_key": e(79, "No key for user", GrpcCode.NOT_FOUND),
  "pki.no_key_at_time": e(80, "No key for user at given time", GrpcCode.NOT_FOUND),
  "pki.key_already_exists": e(81, "The key already exists", GrpcCode.ALREADY_EXISTS),
  "pki.host_not_found": e(82, "No host for given instanceId", GrpcCode.NOT_FOUND),
  "pki.host_url_exists": e(83, "Host URL already exists.", GrpcCode.ALREADY_EXISTS),
  "pki.host_url_not_found": e(84, "Host URL does not exist.", GrpcCode.NOT_FOUND),
  "pki.cannot_add_host": e(85, "Cannot add host.", GrpcCode.FAILED_PRECONDITION),
  "pki.cannot_add_url": e(86, "Cannot add url to the given host.", GrpcCode.FAILED_PRECONDITION),
  "pki.host_not_found_by_filter": e(87, "Cannot find host by given filter.", GrpcCode.NOT_FOUND),
  "pki.host_url_reserved": e(88, "Given URL already reserved.", GrpcCode.ALREADY_EXISTS),
  "pki.host_already_exists": e(89, "Host Identity with the given public key already exists.", GrpcCode.ALREADY_EXISTS),
  // The reference's table gives 89 a second meaning; kept so the table is complete.
  "pki.cannot_remove_url": e(89, "Cannot remove url from the given host.", GrpcCode.FAILED_PRECONDITION),
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ErrorCatalogue;

/**
 * Codes of the reference's tables that this server never sends (they belong
 * to features it does not have). Every other entry is sent somewhere and is
 * asserted by some test (errors.test.ts checks both).
 */
export const NOT_SENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "rpc.not_yet_installed",
  "auth.access_denied",
  "auth.insufficient_role",
  "auth.invalid_user_or_password",
  "user.email_in_use",
  "context.not_found",
  "context.user_not_found",
  "user.not_found",
  "user.token_not_found",
  "user.pub_key_in_use",
  "accesskey.not_found",
  "accesskey.in_use",
  "accesskey.access_denied",
  "instance.not_found",
  "organization.not_found",
  "solution.not_found",
  "solution.instance_mismatch",
  "solution.has_contexts",
  "context.cannot_assign_private",
  "context.cannot_unassign_parent",
  "context.cannot_switch_to_private",
  "mail.log_not_found",
  "mail.template_exists",
  "mail.template_not_found",
  "mail.cannot_remove_template_lang",
  "mail.not_found",
  "auth.account_disabled",
  "auth.token_not_found",
  "auth.account_already_activated",
  "organization.user_already_member",
  "organization.user_not_member",
  "organization.user_has_organization",
  "invitation.exists",
  "invitation.not_found",
  "auth.account_not_activated",
  "auth.open_registration_disabled",
  "auth.invalid_second_factor_secret",
  "auth.cannot_send_second_factor_code",
  "auth.second_factor_verification_failed",
  "auth.second_factor_invalid_code",
  "auth.second_factor_already_enabled",
  "auth.second_factor_already_disabled",
  "auth.not_in_second_factor_mode",
  "auth.invalid_password",
  "invitation.email_mismatch",
  "auth.srp_not_enabled",
  "auth.authorization_code_not_found",
  "resource.manage_error",
  "rpc.last_id_not_found",
  "user.invalid_email",
  "usage.resolution_exceeded",
  "license.not_found",
  "license.expired",
  "license.not_activated",
  "auth.too_many_login_attempts",
  "auth.too_many_unsuccessful_login_attempts",
  "auth.too_many_totp_attempts",
  "auth.too_many_unsuccessful_totp_attempts",
  "auth.session_token_required",
  "user.id_not_found",
  "pki.cannot_add_host",
  "pki.cannot_add_url",
  "pki.cannot_remove_url",
]);

/** HTTP-level errors of the reference's first table, with the statuses the gateway sends. */
export const HttpErrors = {
  404: "Not Found",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
} as const;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCatalogue, code);
}

/**
 * The one error type domain code throws. `data` is public detail sent to the
 * client (e.g. which parameter is invalid); `internal` is for logs only.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly data: unknown;
  readonly internal: string | undefined;

  constructor(code: ErrorCode, options: { data?: unknown; internal?: string; cause?: unknown } = {}) {
    super(ErrorCatalogue[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.data = options.data ?? null;
    this.internal = options.internal;
  }

  get rpcCode(): number {
    return ErrorCatalogue[this.code].rpc;
  }

  /** Normalises anything thrown into an AppError; unknown errors become internal. */
  static from(err: unknown): AppError {
    if (err instanceof AppError) return err;
    return new AppError("rpc.internal", { internal: describe(err), cause: err });
  }
}

/**
 * The catalogue code `p` rejects with, or "ok" when it resolves (for tests
 * and store contract suites); anything thrown that is not an AppError is
 * thrown again.
 */
export async function settledCode(p: Promise<unknown>): Promise<ErrorCode | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

export function invalidParams(data: string): AppError {
  return new AppError("rpc.invalid_params", { data });
}

export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
