/**
 * Test fixture: a throwaway CA and a server certificate it signed, for
 * 127.0.0.1 and localhost, made with `openssl` once per process in a temp
 * directory (removed when the process exits).
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Why the TLS tests cannot run here (no `openssl` on PATH), or `undefined`. */
export const OPENSSL_UNAVAILABLE: string | undefined = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "openssl is not installed (apt-get install openssl)";
  }
})();

/** The files and their PEM text. */
export interface TestCertificates {
  /** The CA's certificate, PEM: what a client must trust. */
  ca: string;
  /** The server's certificate, PEM (signed by the CA; SAN IP:127.0.0.1, DNS:localhost). */
  cert: string;
  /** The server's private key, PEM. */
  key: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

let made: TestCertificates | undefined;

/**
 * The CA and server certificate, made on the first call.
 *
 * @throws {Error} when openssl fails
 */
export function testCertificates(): TestCertificates {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), "cyberdb_tls_"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cyberdb test CA");
  run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  writeFileSync(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  const file = (name: string) => join(dir, name);
  made = {
    ca: readFileSync(file("ca.pem"), "utf8"),
    cert: readFileSync(file("server.pem"), "utf8"),
    key: readFileSync(file("server.key"), "utf8"),
    caFile: file("ca.pem"),
    certFile: file("server.pem"),
    keyFile: file("server.key"),
  };
  return made;
}
