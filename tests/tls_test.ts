/**
 * TLS (`tls: { cert, key }` / `--tls-cert --tls-key` on the server,
 * `tls: { caCerts }` / `cyberdbs://` / `--tls --tls-ca` on the client) with
 * a throwaway CA made by openssl: what is refused and how, TLS with the
 * password and `encrypt` layers, and the command lines. The data suites run
 * over TLS too ("remote tls" in tests/_engines.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, Server, TlsError } from "../mod.ts";
import { rejectsWith } from "./_server.ts";
import { OPENSSL_UNAVAILABLE, testCertificates } from "./_tls.ts";
import { freePort, spawnScript, spawnServer, waitForPort } from "./_child_server.ts";

const skip = OPENSSL_UNAVAILABLE;
const password = "tls test password";

async function tlsServer(extra: { encrypt?: boolean } = {}): Promise<{ server: Server; port: number }> {
  const { cert, key } = testCertificates();
  const server = new Server();
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0, password, tls: { cert, key }, ...extra });
  return { server, port };
}

test("a client given the CA reads and writes over TLS, by IP and by the name localhost", { skip }, async () => {
  const { ca } = testCertificates();
  const { server, port } = await tlsServer();
  try {
    for (const hostname of ["127.0.0.1", "localhost"]) {
      const client = await connect({ hostname, port, password, tls: { caCerts: [ca] } });
      try {
        await using proxy = await client.getProxy().connect();
        const dict = await proxy.createCyberDict(`centre_${hostname}`);
        await dict.set("content", { text: "Hello CyberDB!", n: 12n, bytes: new Uint8Array([1, 2]) });
        assert.deepEqual(await dict.get("content"), { text: "Hello CyberDB!", n: 12n, bytes: new Uint8Array([1, 2]) });
        const big = "x".repeat(3_000_000); // many TLS records each way
        await dict.set("big", big);
        assert.equal(await dict.get("big"), big);
      } finally {
        await client.close();
      }
    }
  } finally {
    await server.close();
  }
});

test("a client without the CA is refused with TlsError (TLS_FAILED) saying to pass caCerts", { skip }, async () => {
  const { server, port } = await tlsServer();
  try {
    const error = await rejectsWith(connect({ port, password, tls: {} }), TlsError, "TLS_FAILED");
    assert.match(error.message, /127\.0\.0\.1:\d+: TLS handshake failed: .*caCerts/);
    const until = Date.now() + 5000; // Deno's TLS listener accepts before the handshake; the session then ends
    while (server.info().connections.current > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.info().connections.current, 0, "the refused client left no session");
  } finally {
    await server.close();
  }
});

test("a TLS client to a plain server gets TLS_FAILED, not a hang", { skip }, async () => {
  const server = new Server();
  const { port } = await server.start({ port: 0 });
  try {
    const started = Date.now();
    await rejectsWith(connect({ port, tls: { caCerts: [testCertificates().ca] } }), TlsError, "TLS_FAILED");
    assert.ok(Date.now() - started < 5000, "refused at once");
  } finally {
    await server.close();
  }
});

test(
  "a plain client to a TLS server times out (it waits for a hello the server never sends in clear)",
  { skip },
  async () => {
    const { server, port } = await tlsServer();
    try {
      await assert.rejects(connect({ port, password, connectTimeout: 300 }), (error: Error & { code?: string }) => {
        assert.ok(["TIMEOUT", "CONNECTION_CLOSED"].includes(error.code ?? ""), String(error));
        return true;
      });
    } finally {
      await server.close();
    }
  },
);

test("TLS with encrypt too is allowed: records are sealed inside TLS, and a client without encrypt is refused", {
  skip,
}, async () => {
  const { ca } = testCertificates();
  const { server, port } = await tlsServer({ encrypt: true });
  try {
    const client = await connect({ port, password, encrypt: true, tls: { caCerts: [ca] } });
    try {
      await using proxy = await client.getProxy().connect();
      const list = await proxy.createCyberList("log");
      assert.equal(await list.push("a", "b"), 2);
    } finally {
      await client.close();
    }
    await assert.rejects(connect({ port, password, tls: { caCerts: [ca] } }), { code: "ENCRYPTION_REQUIRED" });
  } finally {
    await server.close();
  }
});

test("a cyberdbs:// URL connects over TLS, with the CA beside it", { skip }, async () => {
  const { ca } = testCertificates();
  const { server, port } = await tlsServer();
  try {
    const client = await connect(`cyberdbs://:${encodeURIComponent(password)}@127.0.0.1:${port}`, {
      tls: { caCerts: [ca] },
    });
    try {
      await using proxy = await client.getProxy().connect();
      assert.deepEqual(await proxy.tables(), []);
    } finally {
      await client.close();
    }
    await rejectsWith(connect(`cyberdbs://:${encodeURIComponent(password)}@127.0.0.1:${port}`), TlsError, "TLS_FAILED");
  } finally {
    await server.close();
  }
});

test(
  "tls is refused on a Unix socket, and a certificate that is not PEM fails start with a message",
  { skip },
  async () => {
    const { cert, key } = testCertificates();
    await assert.rejects(new Server().start({ path: "/tmp/cyberdb_tls_never.sock", tls: { cert, key } }), TypeError);
    await assert.rejects(connect({ path: "/tmp/cyberdb_tls_never.sock", tls: {} }), RangeError);
    const server = new Server();
    await assert.rejects(
      server.start({ port: 0, tls: { cert: "not a certificate", key } }),
      /TLS certificate and key/,
    );
    await server.close();
  },
);

test(
  "server.ts --tls-cert --tls-key serves TLS; client.ts --tls-ca reads from it; one flag alone exits 2",
  { skip },
  async () => {
    const { caFile, certFile, keyFile, ca } = testCertificates();
    const port = await freePort();
    const child = spawnServer([
      "--port",
      String(port),
      "--password",
      password,
      "--tls-cert",
      certFile,
      "--tls-key",
      keyFile,
    ]);
    try {
      await waitForPort(port);
      const until = Date.now() + 5000; // the log line may reach the pipe after the port answers
      while (!/\(TLS\)/.test(child.stderr) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      assert.match(child.stderr, /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
      const client = await connect({ port, password, tls: { caCerts: [ca] } });
      try {
        await using proxy = await client.getProxy().connect();
        await (await proxy.createCyberDict("centre")).set("content", "Hello CyberDB!");
      } finally {
        await client.close();
      }
      const shell = spawnScript("client.ts", [
        "--port",
        String(port),
        "--password",
        password,
        "--tls-ca",
        caFile,
        "get",
        "centre",
        "content",
      ]);
      try {
        assert.equal((await shell.exit()).code, 0, shell.stderr);
        assert.equal(shell.stdout.trim(), '"Hello CyberDB!"');
      } finally {
        await shell.kill();
      }
      const untrusted = spawnScript("client.ts", ["--port", String(port), "--password", password, "--tls", "info"]);
      try {
        assert.equal((await untrusted.exit()).code, 1);
        assert.match(untrusted.stderr, /TLS_FAILED/);
      } finally {
        await untrusted.kill();
      }
    } finally {
      child.signal("SIGTERM");
      await child.exit().catch(() => {});
      await child.kill();
    }
    const half = spawnServer(["--tls-cert", certFile]);
    try {
      assert.equal((await half.exit()).code, 2);
      assert.match(half.stderr, /--tls-cert and --tls-key go together/);
    } finally {
      await half.kill();
    }
  },
);
