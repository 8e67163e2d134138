export { dockerAnswers } from "./docker";
export { freshName, getInfra, type Infra, type SharedInfra, type SharedInfraOptions, startSharedInfra } from "./infra";
export {
  ferretdbCachePath,
  findMongoBinary,
  freeport,
  type LocalMongoOptions,
  type LocalServer,
  type LocalServerOptions,
  startLocalMongo,
  startLocalNats,
  which,
} from "./local";
