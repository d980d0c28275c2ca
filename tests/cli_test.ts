/**
 * The `server.ts` command as a child process: usage and exit codes, serving
 * and saving a `--db` across a SIGTERM restart, the password from the
 * environment, and start failures.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthenticationError, connect, EncryptionRequiredError, ForbiddenError, VERSION } from "../mod.ts";
import { runtime } from "../src/runtime/mod.ts";
import { freePort, LISTENING, spawnServer, waitForPort } from "./_child_server.ts";

const FLAGS = [
  "--hostname",
  "--port",
  "--password",
  "--db",
  "--backup-interval",
  "--max-connections",
  "--watch-buffer",
  "--whitelist",
  "--slowlog-threshold",
  "--quiet",
  "--encrypt",
];

test("server.ts --help exits 0 and lists every flag", async () => {
  const cli = spawnServer(["--help"]);
  try {
    const status = await cli.exit();
    assert.equal(status.code, 0, cli.stderr);
    assert.match(cli.stdout, /^Usage:/);
    for (const flag of FLAGS) {
      assert.ok(cli.stdout.includes(flag), `--help does not list ${flag}`);
    }
  } finally {
    await cli.kill();
  }
});

for (const flag of ["--version", "-v"]) {
  test(`server.ts ${flag} prints the version of the package and exits 0`, async () => {
    const cli = spawnServer([flag]);
    try {
      const status = await cli.exit();
      assert.equal(status.code, 0, cli.stderr);
      assert.equal(cli.stdout.trim(), `cyberdb-server ${VERSION}`);
      assert.match(VERSION, /^\d+\.\d+\.\d+/);
    } finally {
      await cli.kill();
    }
  });
}

test("server.ts with an unknown flag exits 2 and prints the usage", async () => {
  const cli = spawnServer(["--no-such-flag"]);
  try {
    const status = await cli.exit();
    assert.equal(status.code, 2);
    assert.match(cli.stderr, /no-such-flag/);
    assert.match(cli.stderr, /Usage:/);
    for (const flag of FLAGS) assert.ok(cli.stderr.includes(flag));
  } finally {
    await cli.kill();
  }
});

test("server.ts --port abc exits 2 and prints the usage", async () => {
  const cli = spawnServer(["--port", "abc"]);
  try {
    const status = await cli.exit();
    assert.equal(status.code, 2);
    assert.match(cli.stderr, /--port/);
    assert.match(cli.stderr, /"abc"/);
    assert.match(cli.stderr, /Usage:/);
  } finally {
    await cli.kill();
  }
});

test("server.ts rejects out-of-range numbers and --backup-interval without --db with exit 2", async () => {
  for (
    const args of [
      ["--port", "70000"],
      ["--port", "-1"],
      ["--max-connections", "0"],
      ["--watch-buffer", "12"],
      ["--watch-buffer", "8x"],
      ["--backup-interval", "5"],
      ["--slowlog-threshold", "fast"],
      ["extra-positional"],
    ]
  ) {
    const cli = spawnServer(args);
    try {
      const status = await cli.exit();
      assert.equal(status.code, 2, `${args.join(" ")}: ${cli.stderr}`);
      assert.match(cli.stderr, /Usage:/);
    } finally {
      await cli.kill();
    }
  }
});

test("server.ts --db saves on SIGTERM (exit 0) and loads the value back on restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_cli_"));
  const db = `${dir}/data.cdb`;
  try {
    const port = await freePort();
    const first = spawnServer(["--db", db, "--port", String(port)]);
    try {
      const [, listening] = await first.waitForStderr(LISTENING);
      assert.equal(Number(listening), port);
      const client = await connect({ hostname: "127.0.0.1", port });
      try {
        await using proxy = await client.getProxy().connect();
        const centre = await proxy.createCyberDict("centre");
        await centre.set("content", "Hello CyberDB!");
        await centre.set("zero", 0);
        await (await proxy.createCyberList<unknown>("jobs", [1, "two"])).push(3n);
      } finally {
        await client.close();
      }
      assert.equal(
        await stat(db).then(() => true, () => false),
        false,
        "the snapshot was written before the shutdown",
      );
      first.signal("SIGTERM");
      const status = await first.exit();
      assert.equal(status.code, 0, first.stderr);
      assert.ok((await stat(db)).size > 0, "no snapshot after SIGTERM");
    } finally {
      await first.kill();
    }

    const second = spawnServer(["--db", db, "--port", String(port), "--quiet"]);
    try {
      await waitForPort(port);
      const client = await connect({ hostname: "127.0.0.1", port });
      try {
        await using proxy = await client.getProxy().connect();
        assert.deepEqual(await proxy.tables(), [
          { name: "centre", type: "CyberDict" },
          { name: "jobs", type: "CyberList" },
        ]);
        const centre = await proxy.getCyberDict("centre");
        assert.equal(await centre.get("content"), "Hello CyberDB!");
        assert.equal(await centre.get("zero"), 0);
        assert.deepEqual(
          await (await proxy.getCyberList("jobs")).toArray(),
          [1, "two", 3n],
        );
      } finally {
        await client.close();
      }
      second.signal("SIGTERM");
      assert.equal((await second.exit()).code, 0, second.stderr);
      // --quiet: no log lines.
      assert.doesNotMatch(second.stderr, /\[cyberdb /);
    } finally {
      await second.kill();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("server.ts --db --backup-interval writes snapshots while running", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_cli_"));
  const db = `${dir}/data.cdb`;
  try {
    const port = await freePort();
    const cli = spawnServer([
      "--db",
      db,
      "--port",
      String(port),
      "--backup-interval",
      "1",
    ]);
    try {
      await cli.waitForStderr(LISTENING);
      const client = await connect({ hostname: "127.0.0.1", port });
      try {
        await using proxy = await client.getProxy().connect();
        await proxy.createCyberList("periodic", ["saved"]);
      } finally {
        await client.close();
      }
      let exists = false;
      for (let i = 0; i < 100 && !exists; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        exists = await stat(db).then(() => true, () => false);
      }
      assert.ok(exists, "no periodic snapshot within 5 s");
    } finally {
      await cli.kill();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("server.ts takes the password from CYBERDB_PASSWORD", async () => {
  const password = "from the environment";
  const port = await freePort();
  const cli = spawnServer(["--port", String(port)], {
    CYBERDB_PASSWORD: password,
  });
  try {
    await cli.waitForStderr(LISTENING);
    let caught: unknown;
    try {
      const client = await connect({ hostname: "127.0.0.1", port });
      await client.close();
    } catch (error) {
      caught = error;
    }
    assert.ok(
      caught instanceof AuthenticationError,
      `expected AUTH_FAILED, got ${String(caught)}`,
    );
    assert.equal(caught.code, "AUTH_FAILED");
    const client = await connect({ hostname: "127.0.0.1", port, password });
    try {
      await using proxy = await client.getProxy().connect();
      assert.deepEqual(await proxy.tables(), []);
    } finally {
      await client.close();
    }
    cli.signal("SIGTERM");
    assert.equal((await cli.exit()).code, 0, cli.stderr);
  } finally {
    await cli.kill();
  }
});

test("server.ts --whitelist refuses peers outside it with FORBIDDEN", async () => {
  const port = await freePort();
  const cli = spawnServer([
    "--port",
    String(port),
    "--whitelist",
    "10.0.0.0/8, ::1",
  ]);
  try {
    await cli.waitForStderr(LISTENING);
    let caught: unknown;
    try {
      const client = await connect({ hostname: "127.0.0.1", port });
      await client.close();
    } catch (error) {
      caught = error;
    }
    assert.ok(
      caught instanceof ForbiddenError,
      `expected FORBIDDEN, got ${String(caught)}`,
    );
  } finally {
    await cli.kill();
  }
});

test("server.ts exits 1 with a message when the port is in use or the --db file is corrupt", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cyberdb_cli_"));
  const taken = await runtime.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    const busy = spawnServer(["--port", String(port)]);
    try {
      assert.equal((await busy.exit()).code, 1);
      assert.match(busy.stderr, /in use/);
    } finally {
      await busy.kill();
    }

    const db = `${dir}/corrupt.cdb`;
    await writeFile(db, "not a snapshot");
    const corrupt = spawnServer(["--db", db, "--port", String(await freePort())]);
    try {
      assert.equal((await corrupt.exit()).code, 1);
      assert.ok(corrupt.stderr.includes(db), corrupt.stderr);
      // The corrupt file is left alone, not overwritten.
      assert.equal(await readFile(db, "utf8"), "not a snapshot");
    } finally {
      await corrupt.kill();
    }
  } finally {
    taken.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("server.ts --encrypt --password serves encrypting clients and refuses plain ones with ENCRYPTION_REQUIRED", async () => {
  const password = "encrypted cli";
  const port = await freePort();
  const cli = spawnServer(["--port", String(port), "--password", password, "--encrypt"]);
  try {
    await cli.waitForStderr(LISTENING);
    let caught: unknown;
    try {
      const client = await connect({ hostname: "127.0.0.1", port, password });
      await client.close();
    } catch (error) {
      caught = error;
    }
    assert.ok(
      caught instanceof EncryptionRequiredError,
      `expected ENCRYPTION_REQUIRED, got ${String(caught)}`,
    );
    const client = await connect({ hostname: "127.0.0.1", port, password, encrypt: true });
    try {
      await using proxy = await client.getProxy().connect();
      const dict = await proxy.createCyberDict("secret");
      await dict.set("k", "v");
      assert.equal(await dict.get("k"), "v");
    } finally {
      await client.close();
    }
    cli.signal("SIGTERM");
    assert.equal((await cli.exit()).code, 0, cli.stderr);
  } finally {
    await cli.kill();
  }
});

test("server.ts --encrypt without a password exits 1 with a message", async () => {
  const cli = spawnServer(["--port", String(await freePort()), "--encrypt"]);
  try {
    assert.equal((await cli.exit()).code, 1, cli.stderr);
    assert.match(cli.stderr, /password/);
  } finally {
    await cli.kill();
  }
});
