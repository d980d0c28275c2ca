/**
 * Unix domain sockets, in whichever runtime runs the tests: the runtime's
 * listenUnix/connectUnix, `server.start({ path })` with `connect({ path })`
 * under every transport, the socket file's mode, a stale socket file left by
 * a crashed server replaced, a live server's path refused, and the CLI's
 * `--unix` / `--unix-mode`.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, ConnectionClosedError, Server } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";
import { spawnServer } from "./_child_server.ts";
import { rejectsWith, TRANSPORTS } from "./_server.ts";

/** A fresh directory for socket files (short, so paths stay under the ~104-byte limit), removed after `body`. */
async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cdb-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("runtime.listenUnix and connectUnix carry bytes both ways, and closing the listener removes the file", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "raw.sock");
    const listener = await runtime.listenUnix(path, 0o700);
    assert.equal(listener.addr.path, path);
    const [client, server] = await Promise.all([runtime.connectUnix(path), listener.accept()]);
    assert.ok(server !== null);
    try {
      assert.equal(server.remoteAddr.path, path);
      await client.write(new TextEncoder().encode("ping"));
      const got = await server.read();
      assert.equal(new TextDecoder().decode(got!), "ping");
      const written = server.write(new Uint8Array(300_000).fill(7)); // more than the socket buffers: read as it goes
      let total = 0;
      while (total < 300_000) {
        const chunk = await client.read();
        assert.ok(chunk !== null, "the stream ended early");
        total += chunk.length;
      }
      assert.equal(total, 300_000);
      await written;
      await client.closeWrite();
      assert.equal(await server.read(), null, "a half-close reads as end of stream");
    } finally {
      client.close();
      server.close();
      listener.close();
    }
    assert.equal(existsSync(path), false, "the socket file is removed on close");
  });
});

for (const t of TRANSPORTS) {
  test(`a server on a Unix socket serves connect({ path }) (${t.name})`, async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, "db.sock");
      const server = new Server();
      const address = await server.start({ ...t.start, path });
      try {
        assert.deepEqual(address, { hostname: "", port: 0, path });
        const client = await connect({
          path,
          password: t.start.password,
          encrypt: t.start.encrypt,
          webCrypto: t.start.webCrypto,
        });
        try {
          await using proxy = await client.getProxy().connect();
          const dict = await proxy.createCyberDict("centre");
          await dict.set("content", "Hello CyberDB!");
          const big = "x".repeat(2_000_000);
          await Promise.all(Array.from({ length: 100 }, (_, i) => dict.set(`k${i}`, i === 50 ? big : i)));
          assert.equal(await dict.get("content"), "Hello CyberDB!");
          assert.equal(await dict.get("k50"), big);
          assert.equal(await dict.size(), 101);
        } finally {
          await client.close();
        }
      } finally {
        await server.close();
      }
      assert.equal(existsSync(path), false, "server.close() removes the socket file");
    });
  });
}

test("the socket file is 0700 by default and takes the mode asked for", async () => {
  await inTempDir(async (dir) => {
    for (const [mode, expected] of [[undefined, 0o700], [0o660, 0o660]] as const) {
      const path = join(dir, `m${expected.toString(8)}.sock`);
      const server = new Server();
      await server.start({ path, mode });
      try {
        const info = await lstat(path);
        assert.ok(info.isSocket());
        assert.equal(info.mode & 0o777, expected, `mode ${(info.mode & 0o777).toString(8)}`);
      } finally {
        await server.close();
      }
    }
  });
});

test("a path held by a live server is refused with a clear error, and the first server keeps serving", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "held.sock");
    const first = new Server();
    await first.start({ path });
    try {
      const second = new Server();
      await assert.rejects(second.start({ path }), /held by a running server/);
      await second.close();
      const client = await connect({ path });
      try {
        await using proxy = await client.getProxy().connect();
        await proxy.createCyberList("still");
        assert.deepEqual(await proxy.tables(), [{ name: "still", type: "CyberList" }]);
      } finally {
        await client.close();
      }
    } finally {
      await first.close();
    }
  });
});

test("a file at the path that is not a socket is refused and left alone", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "notes.txt");
    await writeFile(path, "keep me");
    const server = new Server();
    await assert.rejects(server.start({ path }), /not a socket/);
    await server.close();
    assert.equal(await readFile(path, "utf8"), "keep me");
  });
});

test("connect({ path }) to a missing socket rejects with CONNECTION_CLOSED naming the path", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "none.sock");
    const error = await rejectsWith(connect({ path }), ConnectionClosedError, "CONNECTION_CLOSED");
    assert.match(error.message, /none\.sock/);
  });
});

test("the IP whitelist does not shut out Unix socket clients (the file mode guards them)", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "wl.sock");
    const server = new Server();
    server.setIpWhitelist(["10.0.0.0/8"]);
    await server.start({ path });
    try {
      const client = await connect({ path });
      await client.close();
    } finally {
      await server.close();
    }
  });
});

test("server.ts --unix: killed with SIGKILL it leaves its socket file; the next one replaces it and serves", async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, "cli.sock");
    const crashed = spawnServer(["--unix", path, "--unix-mode", "0750"]);
    try {
      await crashed.waitForStderr(/listening on unix socket/);
      assert.equal((await stat(path)).mode & 0o777, 0o750);
    } finally {
      await crashed.kill();
    }
    assert.ok((await lstat(path)).isSocket(), "SIGKILL leaves the socket file behind");
    const next = spawnServer(["--unix", path]);
    try {
      await next.waitForStderr(/listening on unix socket/);
      assert.equal((await stat(path)).mode & 0o777, 0o700);
      const client = await connect({ path });
      try {
        await using proxy = await client.getProxy().connect();
        assert.deepEqual(await proxy.tables(), []);
      } finally {
        await client.close();
      }
      // While it runs, a third is refused with the reason, and exits 1.
      const third = spawnServer(["--unix", path]);
      try {
        assert.equal((await third.exit()).code, 1);
        assert.match(third.stderr, /held by a running server/);
      } finally {
        await third.kill();
      }
    } finally {
      await next.kill();
    }
  });
});

test("server.ts refuses a bad --unix-mode, and --unix-mode without --unix, with exit code 2", async () => {
  for (const args of [["--unix", "/tmp/x.sock", "--unix-mode", "800"], ["--unix-mode", "0700"]]) {
    const cli = spawnServer(args);
    try {
      assert.equal((await cli.exit()).code, 2, cli.stderr);
      assert.match(cli.stderr, /--unix-mode/);
    } finally {
      await cli.kill();
    }
  }
});
