/**
 * The URL form of {@link ConnectOptions}, as `redis://` is for Redis:
 *
 * - `cyberdb://[:password@]host[:port][?param=value&...]` over TCP;
 * - `cyberdbs://…` the same over TLS (as `rediss://` is to `redis://`): `tls: {}`, the server's
 *   certificate checked against the system's roots (a private CA is passed beside the URL:
 *   `connect(url, { tls: { caCerts } })`);
 * - `cyberdb+unix://[:password@]/path/to/socket[?param=value&...]` over a Unix socket
 *   (the password may also be given as `?password=`).
 *
 * Parameters: `encrypt` (`1`/`0`, `true`/`false`), `password`, and the timeouts and limits in
 * milliseconds or counts: `requestTimeout`, `connectTimeout`, `idleTimeout`, `sharedConnections`,
 * `maxFrameSize`. Anything else — another scheme, a user name, a port out of range, an unknown
 * parameter, a path on a TCP URL — is refused with a `RangeError` naming the part, as `connect()`
 * refuses a bad option.
 *
 * @module
 */
import type { ConnectOptions } from "./connection.ts";

/** The environment variable the shell and the example app read a server URL from. */
export const URL_VARIABLE = "CYBERDB_URL";

/** The URL parameters that are whole numbers, and the smallest value each accepts. */
const NUMBER_PARAMETERS = {
  requestTimeout: 0,
  connectTimeout: 1,
  idleTimeout: 0,
  sharedConnections: 0,
  maxFrameSize: 1024,
} as const;

type NumberParameter = keyof typeof NUMBER_PARAMETERS;

const PARAMETERS = ["encrypt", "password", ...Object.keys(NUMBER_PARAMETERS)].join(", ");

function refuse(url: string, part: string, what: string): never {
  throw new RangeError(`connection URL ${JSON.stringify(redact(url))}: ${part} ${what}`);
}

/** The URL with its password replaced by `***`, for messages. */
function redact(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^/@]*:)[^@/]*@/i, "$1***@").replace(/([?&]password=)[^&]*/i, "$1***");
}

/**
 * Reads a `cyberdb://` or `cyberdb+unix://` URL into connect options.
 *
 * @param url the URL, such as `cyberdb://:123456@127.0.0.1:9980?encrypt=1`
 * @returns the options it gives (only those the URL names)
 * @throws {RangeError} naming the part that is wrong: the scheme, the user, the host, the port, the path or a parameter
 * @example
 * ```ts
 * import { parseConnectUrl } from "./url.ts";
 * console.log(parseConnectUrl("cyberdb://:123456@db.local:9981?encrypt=1"));
 * // { hostname: "db.local", port: 9981, password: "123456", encrypt: true }
 * console.log(parseConnectUrl("cyberdb+unix:///run/cyberdb.sock").path); // "/run/cyberdb.sock"
 * ```
 */
export function parseConnectUrl(url: string): ConnectOptions {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) refuse(url, "scheme", "is missing: write cyberdb://host[:port] or cyberdb+unix:///path");
  if (scheme !== "cyberdb" && scheme !== "cyberdbs" && scheme !== "cyberdb+unix") {
    refuse(url, `scheme ${JSON.stringify(scheme ?? "")}`, "is not cyberdb://, cyberdbs:// (TLS) or cyberdb+unix://");
  }
  // Checked before URL parsing, whose message for a bad port would not name it.
  const port = /^[a-z+]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/i.exec(url)?.[1];
  if (port !== undefined && port !== "" && (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    refuse(url, `port ${JSON.stringify(port)}`, "must be an integer from 1 to 65535");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    refuse(
      url,
      "the URL",
      "is not well-formed (expected cyberdb://[:password@]host[:port][?params] or cyberdb+unix:///path[?password=...])",
    );
  }
  if (parsed.username !== "") refuse(url, "user", "is not supported: write the password alone, as :password@");
  if (parsed.hash !== "") refuse(url, "fragment", "is not supported");
  const options: ConnectOptions = {};
  if (parsed.password !== "") options.password = decodeURIComponent(parsed.password);
  if (scheme === "cyberdb+unix") {
    if (parsed.host !== "") refuse(url, `host ${JSON.stringify(parsed.host)}`, "has no place in cyberdb+unix:///path");
    const path = decodeURIComponent(parsed.pathname);
    if (path === "" || path === "/") refuse(url, "path", "is missing: cyberdb+unix:///path/to/socket");
    options.path = path;
  } else {
    if (parsed.hostname === "") refuse(url, "host", `is missing: ${scheme}://host[:port]`);
    if (scheme === "cyberdbs") options.tls = {};
    options.hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    if (port !== undefined && port !== "") options.port = Number(port);
    if (parsed.pathname !== "" && parsed.pathname !== "/") {
      refuse(
        url,
        `path ${JSON.stringify(parsed.pathname)}`,
        "has no meaning on cyberdb://; for a socket use cyberdb+unix:///path",
      );
    }
  }
  for (const [name, value] of parsed.searchParams) readParameter(url, options, name, value);
  return options;
}

function readParameter(url: string, options: ConnectOptions, name: string, value: string): void {
  const part = `parameter ${name}=${JSON.stringify(name === "password" ? "***" : value)}`;
  if (name === "encrypt") {
    if (/^(1|true|yes|on)$/i.test(value)) options.encrypt = true;
    else if (/^(0|false|no|off)$/i.test(value)) options.encrypt = false;
    else refuse(url, part, "must be 1 or 0 (true or false)");
  } else if (name === "password") {
    if (options.password !== undefined) refuse(url, "parameter password", "repeats the password given before the @");
    options.password = value;
  } else if (Object.hasOwn(NUMBER_PARAMETERS, name)) {
    const min = NUMBER_PARAMETERS[name as NumberParameter];
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      refuse(url, part, `must be a whole number ≥ ${min}`);
    }
    options[name as NumberParameter] = Number(value);
  } else {
    refuse(url, `parameter ${JSON.stringify(name)}`, `is unknown (known: ${PARAMETERS})`);
  }
}
