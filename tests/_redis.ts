/**
 * Test fixture: real `redis-server` processes on free loopback ports — one
 * node, or a Cluster of masters (`--cluster-enabled yes` each, then
 * `redis-cli --cluster create … --cluster-yes`) — each in its own temporary
 * directory, every wait bounded, and a `close()` that stops them and removes
 * the directories. A node can be stopped and started again on the same port
 * and directory (a Cluster node keeps its identity in `nodes.conf`).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Child, freePort, run, start } from "./_spawn.ts";

function version(command: string): string | undefined {
  try {
    const result = spawnSync(command, ["--version"], { encoding: "utf8", timeout: 10_000 });
    return result.status === 0 ? result.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Why the Redis harnesses cannot run here, or `undefined` when `redis-server` and `redis-cli` are on PATH. */
export const REDIS_UNAVAILABLE: string | undefined = version("redis-server") && version("redis-cli")
  ? undefined
  : "redis-server and redis-cli are not on PATH (Debian: apt-get install redis-server)";

/** How a node is started. */
export interface RedisNodeOptions {
  /** A Cluster node (`--cluster-enabled yes`). */
  cluster?: boolean;
  /** Keep the data across a stop (append-only file, fsync on every write). */
  durable?: boolean;
  /**
   * A Cluster node's `cluster-node-timeout` in ms: how long a node may not answer before the others call it failing.
   * Redis's own default: a node busy for a second with a 20 MB value must not be taken for a dead one.
   *
   * @default {15000}
   */
  nodeTimeout?: number;
}

/** One running (or stopped) `redis-server`. */
export interface RedisNode {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `"127.0.0.1:<port>"`. */
  readonly address: string;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Kills it (SIGKILL: as a crash would). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

async function launch(port: number, dir: string, options: RedisNodeOptions): Promise<Child> {
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.durable ? "yes" : "no",
    "--appendfsync",
    "always",
    "--protected-mode",
    "no",
  ];
  if (options.cluster) {
    args.push(
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      String(options.nodeTimeout ?? 15_000),
      "--cluster-require-full-coverage",
      "no",
    );
  }
  const child = start("redis-server", args, { cwd: dir });
  try {
    await child.waitFor(/Ready to accept connections/, 20_000);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/**
 * Starts one `redis-server` on a free port (another one if the port was taken meanwhile, up to 3 tries).
 *
 * @throws {Error} when it does not start within 20 s
 */
export async function startRedis(options: RedisNodeOptions = {}): Promise<RedisNode> {
  const dir = mkdtempSync(join(tmpdir(), "cyberdb_redis_"));
  let child: Child | undefined, port = 0;
  for (let attempt = 0; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, dir, options);
    } catch (error) {
      if (attempt === 2) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  let running: Child | undefined = child;
  return {
    port,
    address: `127.0.0.1:${port}`,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      await running?.stop("SIGKILL");
      running = undefined;
    },
    async restart() {
      if (running === undefined) running = await launch(port, dir, options);
    },
    async close() {
      await running?.stop("SIGKILL");
      running = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A local Redis Cluster. */
export interface RedisCluster {
  /** Its masters. */
  nodes: RedisNode[];
  /** `"127.0.0.1:<port>"` of each, for `connectRedis({ cluster })`. */
  seeds: string[];
  /** Stops every node and removes their directories. */
  close(): Promise<void>;
}

/** Waits until `redis-cli` says the cluster is ok on every node, at most `ms`. */
async function clusterOk(nodes: RedisNode[], ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    let ok = true;
    for (const node of nodes) {
      const info = await run("redis-cli", ["-p", String(node.port), "cluster", "info"], { ms: 5000 });
      ok &&= /cluster_state:ok/.test(info.stdout);
    }
    if (ok) return;
    if (performance.now() > until) throw new Error(`the cluster did not reach cluster_state:ok within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts a Cluster of `masters` nodes with no replicas and waits until it is ok.
 *
 * @throws {Error} when a node does not start, or the cluster is not ok within 30 s
 */
export async function startRedisCluster(
  masters = 3,
  options: { durable?: boolean; nodeTimeout?: number } = {},
): Promise<RedisCluster> {
  const nodes: RedisNode[] = [];
  const close = async () => {
    for (const node of nodes) await node.close();
  };
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startRedis({ cluster: true, ...options }));
    const seeds = nodes.map((node) => node.address);
    const create = await run(
      "redis-cli",
      ["--cluster", "create", ...seeds, "--cluster-replicas", "0", "--cluster-yes"],
      {
        ms: 30_000,
      },
    );
    if (create.code !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    await clusterOk(nodes, 30_000);
    return { nodes, seeds, close };
  } catch (error) {
    await close();
    throw error;
  }
}
