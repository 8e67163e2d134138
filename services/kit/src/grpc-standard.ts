import type {
  handleBidiStreamingCall,
  Metadata,
  Server,
  ServerDuplexStream,
  ServiceDefinition,
  UntypedHandleCall,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { fileDescriptorProtos, healthV1, rpcErrorDetails, rpcStatus } from "@pkiserver/proto";
import { HealthImplementation } from "grpc-health-check";
import { AppError, ErrorCatalogue, type ErrorCode, isErrorCode } from "./errors";

/*
 * What every gRPC server of the project serves besides its own service, as
 * any gRPC tool expects it: server reflection (grpc.reflection.v1 and
 * v1alpha, describing the project's protos from proto/), the standard health
 * service (grpc.health.v1), and errors in the rich error model (a
 * google.rpc.Status with an ErrorInfo in grpc-status-details-bin). None of it
 * needs credentials: it names the API, not its data.
 */

/** The full name of the standard health service. */
export const HEALTH_SERVICE_NAME = healthV1.HealthClient.serviceName;

/** The trailer that carries an error's encoded google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

/** ErrorInfo.domain of the project's errors: their reasons are its error codes. */
export const ERROR_DOMAIN = "pkiserver";

const ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo";

/** Data longer than this (as JSON) stays out of the ErrorInfo, which then names the code alone. */
const MAX_DETAIL_DATA_LENGTH = 2048;

type ReflectionInput = ConstructorParameters<typeof ReflectionService>[0];

/**
 * The descriptors as @grpc/reflection takes them: it reads only the
 * `fileDescriptorProtos` of a package definition's entries, so one entry
 * carries the files exactly as buf built them (names, imports, options and
 * comments intact). A definition loaded by @grpc/proto-loader instead would
 * hold protobufjs's rebuild of them, which merges the files of a package,
 * loses comments and leaves imports unresolvable for some clients.
 */
function reflectionInput(): ReflectionInput {
  const entry = { format: "Protocol Buffer 3 DescriptorProto", type: {}, fileDescriptorProtos: fileDescriptorProtos() };
  return { "google.protobuf.FileDescriptorSet": entry } as unknown as ReflectionInput;
}

/** What a ReflectionService registers (its v1 and v1alpha services), by method path. */
function registeredHandlers(reflection: ReflectionService): {
  definitions: ServiceDefinition[];
  handlers: Map<string, UntypedHandleCall>;
} {
  const definitions: ServiceDefinition[] = [];
  const handlers = new Map<string, UntypedHandleCall>();
  reflection.addToServer({
    addService: (definition, implementation) => {
      definitions.push(definition);
      for (const [name, method] of Object.entries(definition)) {
        const handler = implementation[name] ?? (method.originalName ? implementation[method.originalName] : undefined);
        if (handler !== undefined) handlers.set(method.path, handler);
      }
    },
  });
  return { definitions, handlers };
}

/** The reflection services' definitions, read once per process from a ReflectionService of no files. */
let reflectionDefinitions: ServiceDefinition[] | undefined;
/** The handlers of the ReflectionService describing a set of services, made on its first request. */
const reflectionHandlers = new Map<string, Map<string, UntypedHandleCall>>();

/**
 * Adds server reflection for `services` to `server`. Indexing the
 * descriptors (decoding, then encoding every file, for each reflection
 * version) costs far more than a server's start, and most servers are never
 * asked: it happens on the first reflection request, once per process for
 * each set of services.
 */
function addReflection(server: Server, services: readonly string[]): void {
  reflectionDefinitions ??= registeredHandlers(new ReflectionService({})).definitions;
  const key = services.join(",");
  const handlerFor = (path: string): UntypedHandleCall => {
    let handlers = reflectionHandlers.get(key);
    if (handlers === undefined) {
      handlers = registeredHandlers(new ReflectionService(reflectionInput(), { services: [...services] })).handlers;
      reflectionHandlers.set(key, handlers);
    }
    const handler = handlers.get(path);
    if (handler === undefined) throw new Error(`no reflection handler for ${path}`);
    return handler;
  };
  for (const definition of reflectionDefinitions) {
    const implementation: UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(definition)) {
      implementation[name] = ((call: ServerDuplexStream<unknown, unknown>) =>
        (handlerFor(method.path) as handleBidiStreamingCall<unknown, unknown>)(call)) as UntypedHandleCall;
    }
    server.addService(definition, implementation);
  }
}

/**
 * Adds the standard health and reflection services to `server`. Health
 * starts SERVING for the server as a whole ("") and for each of
 * `serviceNames`; reflection lists those services and the health service.
 */
export function addStandardServices(server: Server, serviceNames: readonly string[]): HealthImplementation {
  const health = new HealthImplementation({ "": "SERVING" });
  for (const name of serviceNames) health.setStatus(name, "SERVING");
  health.addToServer(server);
  addReflection(server, [...serviceNames, HEALTH_SERVICE_NAME]);
  return health;
}

/**
 * Whether a method path (`/package.Service/Method`) belongs to the standard
 * services, health and reflection, which answer without credentials.
 */
export function isStandardServiceMethod(path: string): boolean {
  return path.startsWith(`/${HEALTH_SERVICE_NAME}/`) || path.startsWith("/grpc.reflection.");
}

/**
 * ErrorInfo.reason of an error code: the code in upper snake case
 * ("pki.no_key" -> "PKI_NO_KEY"), as the rich error model asks.
 */
export function errorReason(code: ErrorCode): string {
  return code.replace(/\./g, "_").toUpperCase();
}

/** Status details of the errors without data: the same bytes for every occurrence of a code. */
const encodedByCode = new Map<ErrorCode, Buffer>();

/**
 * The encoded google.rpc.Status of an error: its gRPC code and catalogue
 * message, and one ErrorInfo (reason and domain above; metadata `code` the
 * project's error code, `rpcCode` its JSON-RPC code, and `data` the error's
 * data as JSON when it has any, which `dataJson` is, up to 2 KiB).
 */
export function encodeStatusDetails(code: ErrorCode, dataJson: string | undefined): Buffer {
  if (dataJson !== undefined && dataJson.length > MAX_DETAIL_DATA_LENGTH) dataJson = undefined;
  if (dataJson === undefined) {
    const known = encodedByCode.get(code);
    if (known !== undefined) return known;
  }
  const entry = ErrorCatalogue[code];
  const metadata: Record<string, string> = { code, rpcCode: String(entry.rpc) };
  if (dataJson !== undefined) metadata.data = dataJson;
  const info = rpcErrorDetails.ErrorInfo.encode({ reason: errorReason(code), domain: ERROR_DOMAIN, metadata }).finish();
  const bytes = asBuffer(
    rpcStatus.Status.encode({
      code: entry.grpc,
      message: entry.message,
      details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: asBuffer(info) }],
    }).finish(),
  );
  if (dataJson === undefined) encodedByCode.set(code, bytes);
  return bytes;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Adds an error's google.rpc.Status to the trailers of its reply. */
export function setStatusDetails(metadata: Metadata, code: ErrorCode, dataJson: string | undefined): void {
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(code, dataJson));
}

/**
 * The project's error in a reply's google.rpc.Status, if it carries one: an
 * ErrorInfo of the project's domain naming a known code. For replies whose
 * own trailers (pmx-error-code) did not survive a proxy.
 */
export function errorFromStatusDetails(metadata: Metadata | undefined): AppError | undefined {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (!Buffer.isBuffer(raw)) return undefined;
  let status: rpcStatus.Status;
  try {
    status = rpcStatus.Status.decode(raw);
  } catch {
    return undefined;
  }
  for (const detail of status.details) {
    if (detail.typeUrl !== ERROR_INFO_TYPE_URL) continue;
    let info: rpcErrorDetails.ErrorInfo;
    try {
      info = rpcErrorDetails.ErrorInfo.decode(detail.value);
    } catch {
      continue;
    }
    const code = info.metadata.code;
    if (info.domain !== ERROR_DOMAIN || code === undefined || !isErrorCode(code)) continue;
    let data: unknown = null;
    if (info.metadata.data !== undefined) {
      try {
        data = JSON.parse(info.metadata.data);
      } catch {
        data = null;
      }
    }
    return new AppError(code, { data });
  }
  return undefined;
}
