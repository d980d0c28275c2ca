// The physical floor for bench/compare.ts: a bare echo round trip, no protocol, no codec, in the
// runtime that runs this file (Deno's own sockets under Deno, node:net under Node).
//
//   <runtime> _echo.mjs server <port | /socket/path>     # prints "listening", echoes until killed
//   <runtime> _echo.mjs client <port | /socket/path> <n> # n sequential round trips; prints { ops, seconds }
//
// Each round trip writes one 32-byte message (about a get request's size) and waits for all 32 back.

const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [role, where, countText] = args;
const unix = where.startsWith("/");
const SIZE = 32;

async function denoServer() {
  const listener = unix
    ? Deno.listen({ transport: "unix", path: where })
    : Deno.listen({ hostname: "127.0.0.1", port: Number(where) });
  console.log("listening");
  for await (const conn of listener) {
    if (!unix) conn.setNoDelay(true);
    (async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        let at = 0;
        while (at < n) at += await conn.write(buffer.subarray(at, n));
      }
      conn.close();
    })();
  }
}

async function denoClient(count) {
  const conn = unix
    ? await Deno.connect({ transport: "unix", path: where })
    : await Deno.connect({ hostname: "127.0.0.1", port: Number(where) });
  if (!unix) conn.setNoDelay(true);
  const message = new Uint8Array(SIZE).fill(7), buffer = new Uint8Array(64 * 1024);
  const trip = async () => {
    await conn.write(message);
    for (let got = 0; got < SIZE;) got += await conn.read(buffer);
  };
  for (let i = 0; i < 2000; i++) await trip(); // warm-up
  const start = performance.now();
  for (let i = 0; i < count; i++) await trip();
  const seconds = (performance.now() - start) / 1000;
  conn.close();
  return seconds;
}

async function nodeServer() {
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    socket.setNoDelay?.(true);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("error", () => {});
  });
  await new Promise((resolve) =>
    unix ? server.listen(where, resolve) : server.listen(Number(where), "127.0.0.1", resolve)
  );
  console.log("listening");
}

async function nodeClient(count) {
  const net = await import("node:net");
  const socket = await new Promise((resolve, reject) => {
    const s = unix ? net.connect(where) : net.connect(Number(where), "127.0.0.1");
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
  socket.setNoDelay?.(true);
  const message = new Uint8Array(SIZE).fill(7);
  let got = 0, done;
  socket.on("data", (chunk) => {
    got += chunk.length;
    if (got >= SIZE) {
      got -= SIZE;
      done();
    }
  });
  const trip = () =>
    new Promise((resolve) => {
      done = resolve;
      socket.write(message);
    });
  for (let i = 0; i < 2000; i++) await trip(); // warm-up
  const start = performance.now();
  for (let i = 0; i < count; i++) await trip();
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  return seconds;
}

const deno = globalThis.Deno !== undefined;
if (role === "server") {
  await (deno ? denoServer() : nodeServer());
} else {
  const count = Number(countText);
  const seconds = await (deno ? denoClient(count) : nodeClient(count));
  console.log(JSON.stringify({ ops: count, seconds }));
}
