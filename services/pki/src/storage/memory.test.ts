import { pkiStoreContract } from "./contract";
import { createMemoryStores } from "./stores";

pkiStoreContract("memory", async () => createMemoryStores());
