/**
 * Test fixture: every engine the shared suites run against. A suite is a
 * function over an {@link EngineHarness}; each `*_test.ts` entry loops over
 * {@link ENGINES} and calls it (as denodrivers/redis's commands_test.ts loops
 * over its connectors). A harness starts its engine once per suite; tests
 * isolate themselves with fresh table names ({@link freshName}).
 *
 * @module
 */
import {
  Client,
  connect,
  ConnectionClosedError,
  connectRedis,
  type Engine,
  type EngineConnection,
  type EngineName,
  Server,
} from "../mod.ts";
import { MemoryEngine } from "../src/engines/memory/engine.ts";
import { Persistence } from "../src/store/persistence.ts";
import { Store } from "../src/store/store.ts";
import { REDIS_UNAVAILABLE, startRedis, startRedisCluster } from "./_redis.ts";
import { TRANSPORTS } from "./_server.ts";
import { OPENSSL_UNAVAILABLE, testCertificates } from "./_tls.ts";

/** A started engine: a connected client, and how to stop what was started. */
export interface EngineFixture {
  /** A client of this engine, connected. */
  client: Client;
  /** Opens another, independent client of the same tables (another process, in effect). */
  connectAnother(): Promise<Client>;
  /** Closes the clients and stops what the harness started. */
  close(): Promise<void>;
}

/**
 * What some engine cannot do. A shared-suite test that needs one lists it
 * (`suite.test(name, body, { needs: ["info"] })`); a harness whose
 * {@link EngineHarness.unsupported} names it skips that test, saying why.
 *
 * - `info`: `proxy.info()` answers with a `ServerInfo`.
 * - `watch`: `watch()` on a table or a proxy gives a change feed.
 * - `expiry`: dict entries expire (`{ expireIn }`, `expire`, `persist`, `ttl`).
 * - `atomic`: `proxy.atomic()` batches commit.
 *
 * A suite checks that an engine lacking a feature refuses it with `UNSUPPORTED` naming the engine.
 */
export type Feature = "info" | "watch" | "expiry" | "atomic";

/** One engine configuration a shared suite runs under. */
export interface EngineHarness {
  /** Shown in test names: `"memory"`, `"remote plain"`, `"redis"`, `"redis cluster"`… */
  name: string;
  /** Which engine it is. */
  engine: EngineName;
  /** Why this harness cannot run here (printed in the skipped test's name), or `undefined`. */
  unavailable?: string;
  /** Features this engine lacks, each with the reason shown in the skipped test's name. */
  unsupported?: Partial<Record<Feature, string>>;
  /** Starts the engine. */
  start(): Promise<EngineFixture>;
}

/**
 * A fixture over a started engine: the first client from `open`, more on `connectAnother`, and `close` closing them
 * all, then calling `stop`. If the first client cannot connect, `stop` is called before the error is thrown.
 */
async function connectedFixture(open: () => Promise<Client>, stop: () => Promise<void>): Promise<EngineFixture> {
  const clients: Client[] = [];
  const another = async () => {
    const client = await open();
    clients.push(client);
    return client;
  };
  let client: Client;
  try {
    client = await another();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    client,
    connectAnother: another,
    async close() {
      for (const c of clients) await c.close();
      await stop();
    },
  };
}

/** A table name no other test uses. */
export function freshName(prefix = "t"): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

function remoteHarness(t: (typeof TRANSPORTS)[number]): EngineHarness {
  return {
    name: `remote ${t.name}`,
    engine: "remote",
    async start() {
      const server = new Server();
      const { port } = await server.start({ hostname: "127.0.0.1", port: 0, ...t.start });
      const options = {
        hostname: "127.0.0.1",
        port,
        password: t.start.password,
        encrypt: t.start.encrypt,
        webCrypto: t.start.webCrypto,
      };
      return await connectedFixture(() => connect(options), () => server.close());
    },
  };
}

/** The remote engine over TLS (a throwaway CA from openssl), with a password and no --encrypt. */
const tlsHarness: EngineHarness = {
  name: "remote tls",
  engine: "remote",
  unavailable: OPENSSL_UNAVAILABLE,
  async start() {
    const { ca, cert, key } = testCertificates();
    const server = new Server();
    const password = "correct horse battery staple";
    const { port } = await server.start({ hostname: "127.0.0.1", port: 0, password, tls: { cert, key } });
    const options = { hostname: "127.0.0.1", port, password, tls: { caCerts: [ca] } };
    return await connectedFixture(() => connect(options), () => server.close());
  },
};

/**
 * Another client of one memory engine's tables: its own connections, and a
 * `close()` that gives back only those (the engine lives until the fixture closes).
 */
function sharedView(engine: MemoryEngine): Engine {
  const mine = new Set<EngineConnection>();
  let closed = false;
  return {
    name: engine.name,
    get connections() {
      return mine.size;
    },
    async lease() {
      if (closed) throw new ConnectionClosedError("the client is closed; call open() again");
      const connection = await engine.lease();
      mine.add(connection);
      return connection;
    },
    release(connection) {
      mine.delete(connection);
      engine.release(connection);
    },
    close() {
      closed = true;
      for (const connection of mine) engine.release(connection);
      mine.clear();
      return Promise.resolve();
    },
  };
}

/** The in-process engine: what `open()` returns, with more clients of the same store for concurrency suites. */
const memoryHarness: EngineHarness = {
  name: "memory",
  engine: "memory",
  start() {
    const store = new Store();
    const engine = new MemoryEngine(store, new Persistence(store, () => {}));
    const client = new Client(engine);
    const others: Client[] = [];
    return Promise.resolve({
      client,
      connectAnother() {
        const other = new Client(sharedView(engine));
        others.push(other);
        return Promise.resolve(other);
      },
      async close() {
        for (const other of others) await other.close();
        await client.close();
      },
    });
  },
};

/** Redis on one node, or on a local Cluster of 3 masters, started for the suite and stopped after it. */
function redisHarness(cluster: boolean): EngineHarness {
  return {
    name: cluster ? "redis cluster" : "redis",
    engine: "redis",
    unavailable: REDIS_UNAVAILABLE,
    unsupported: {
      info: "proxy.info() is UNSUPPORTED on redis (ask Redis itself: INFO)",
      expiry: "expiry is UNSUPPORTED on redis: Redis 7.0 has no per-field TTL (HPEXPIRE is 7.4+)",
    },
    async start() {
      const servers = cluster ? await startRedisCluster(3) : await startRedis();
      const options = "seeds" in servers ? { cluster: servers.seeds } : { url: servers.url };
      return await connectedFixture(() => connectRedis(options), () => servers.close());
    },
  };
}

/** Every engine configuration the shared suites run under, in this runtime. */
export const ENGINES: EngineHarness[] = [
  memoryHarness,
  ...TRANSPORTS.map(remoteHarness),
  tlsHarness,
  redisHarness(false),
  redisHarness(true),
];
