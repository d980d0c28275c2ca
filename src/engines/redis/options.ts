/**
 * The options of `connectRedis()`, apart from the engine so that the
 * package's public types never name ioredis (a TypeScript user without
 * ioredis installed type-checks cyberdb's declarations as they are).
 *
 * @module
 */

/** Where the tables live in Redis, and how to reach it (see `connectRedis`). */
export interface RedisOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** A Redis Cluster instead: some of its nodes as `"host:port"`; the rest are discovered. */
  cluster?: string[];
  /** Redis AUTH password (for a Cluster, of every node). */
  password?: string;
  /** Redis ACL user name. */
  username?: string;
  /** The first part of every key: `<prefix>:{table}…`. Default `"cyberdb"`. */
  prefix?: string;
  /** Milliseconds to wait for the first connection. Default 10,000. */
  connectTimeout?: number;
  /** Milliseconds after which a request with no reply rejects with `TIMEOUT`. Default: no limit. */
  commandTimeout?: number;
  /** Not available here: cyberdb's encryption is its own protocol's. Use a `rediss://` URL (TLS). */
  encrypt?: boolean;
}
