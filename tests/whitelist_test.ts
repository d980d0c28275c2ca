/**
 * The IP whitelist: peers outside it are refused with FORBIDDEN, peers on it
 * are served; CIDR ranges, IPv6 and IPv4-mapped addresses match as they
 * should, and invalid entries are refused.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, ForbiddenError, Server } from "../mod.ts";
import { IpWhitelist, parseIp } from "../src/server/whitelist.ts";
import { assertServes, rejectsWith } from "./_server.ts";

// ---------------------------------------------------------------- whitelist

test("Server refuses a peer outside the whitelist with FORBIDDEN", async () => {
  const server = new Server();
  server.setIpWhitelist(["10.0.0.0/8"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    const error = await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
    assert.match(error.message, /127\.0\.0\.1/);
  } finally {
    await server.close();
  }
});

test("Server admits a peer whose address is on the whitelist", async () => {
  const server = new Server();
  server.setIpWhitelist(["127.0.0.1"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await assertServes(port);
  } finally {
    await server.close();
  }
});

test("an IPv6-only whitelist refuses an IPv4 loopback peer", async () => {
  const server = new Server();
  server.setIpWhitelist(["::1"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
  } finally {
    await server.close();
  }
});

test("an empty whitelist set after a restrictive one lets everyone in again", async () => {
  const server = new Server();
  server.setIpWhitelist(["10.0.0.0/8"]);
  const { port } = await server.start({ hostname: "127.0.0.1", port: 0 });
  try {
    await rejectsWith(
      connect({ hostname: "127.0.0.1", port }),
      ForbiddenError,
      "FORBIDDEN",
    );
    server.setIpWhitelist([]);
    await assertServes(port);
  } finally {
    await server.close();
  }
});

test("IpWhitelist matches CIDR ranges, IPv4-mapped IPv6 and IPv6 prefixes", () => {
  const v4 = new IpWhitelist(["127.0.0.0/8"]);
  assert.equal(v4.allows("127.255.0.1"), true);
  assert.equal(v4.allows("127.0.0.1"), true);
  assert.equal(v4.allows("128.0.0.1"), false);
  assert.equal(v4.allows("::ffff:127.0.0.1"), true);

  const single = new IpWhitelist(["127.0.0.1"]);
  assert.equal(single.allows("::ffff:127.0.0.1"), true);
  assert.equal(single.allows("127.0.0.1"), true);
  assert.equal(single.allows("127.0.0.2"), false);
  assert.equal(single.allows("::1"), false);

  const v6 = new IpWhitelist(["2001:db8::/32"]);
  assert.equal(v6.allows("2001:db8:1::5"), true);
  assert.equal(v6.allows("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), true);
  assert.equal(v6.allows("2001:db9::1"), false);
  assert.equal(v6.allows("127.0.0.1"), false);

  const odd = new IpWhitelist(["10.0.0.0/13"]);
  assert.equal(odd.allows("10.7.255.255"), true);
  assert.equal(odd.allows("10.8.0.0"), false);

  const everyone = new IpWhitelist(["0.0.0.0/0"]);
  assert.equal(everyone.allows("203.0.113.9"), true);

  const loopback6 = new IpWhitelist(["::1"]);
  assert.equal(loopback6.allows("::1"), true);
  assert.equal(loopback6.allows("[::1]"), true);
  assert.equal(loopback6.allows("127.0.0.1"), false);
  assert.equal(loopback6.allows("not an address"), false);
});

test("parseIp reads IPv4, IPv6 and IPv4-mapped forms to the same 16 bytes", () => {
  assert.deepEqual(parseIp("127.0.0.1"), parseIp("::ffff:127.0.0.1"));
  assert.deepEqual(parseIp("::ffff:7f00:1"), parseIp("127.0.0.1"));
  assert.deepEqual(
    parseIp("2001:db8::1"),
    parseIp("2001:0db8:0000:0000:0000:0000:0000:0001"),
  );
  assert.deepEqual(
    parseIp("::1"),
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  );
  assert.deepEqual(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
  for (
    const bad of [
      "",
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "localhost",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, `parseIp(${JSON.stringify(bad)})`);
  }
});

test("IpWhitelist and setIpWhitelist throw TypeError for invalid entries", () => {
  for (
    const bad of [
      "not-an-ip",
      "10.0.0.0/33",
      "::1/129",
      "10.0.0.0/8/8",
      "10.0.0.0/",
      "10.0.0.0/-1",
      "10.0.0.0/abc",
      "300.1.1.1",
      "",
    ]
  ) {
    assert.throws(
      () => new IpWhitelist([bad]),
      TypeError,
      `new IpWhitelist([${JSON.stringify(bad)}])`,
    );
  }
  const server = new Server();
  assert.throws(() => server.setIpWhitelist(["127.0.0.1", "nope"]), TypeError);
});
