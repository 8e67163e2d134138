export { dockerAnswers } from "./docker";
export { freshName, getInfra, type Infra, type SharedInfra, type SharedInfraOptions, startSharedInfra } from "./infra";
export {
  ferretdbCachePath,
  findFerretdbBinary,
  findMongoBinary,
  findNatsBinary,
  freeport,
  type LocalMongoOptions,
  type LocalServer,
  type LocalServerOptions,
  natsCachePath,
  startLocalMongo,
  startLocalNats,
  startLocalRedis,
  which,
} from "./local";
export { findPostgresBinDir, type LocalPostgres, postgresMissingMessage, startLocalPostgres } from "./postgres";
export { startRedis, type TestRedis } from "./redis";
