/**
 * The IP whitelist: addresses and CIDR ranges, IPv4 and IPv6. IPv4 is held as
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so a v4 rule matches a v4 peer however
 * the socket reports it.
 *
 * @module
 */

interface Range {
  bytes: Uint8Array;
  prefix: number;
}

/**
 * Parses an IPv4 or IPv6 address to 16 bytes.
 *
 * @returns the bytes, or `undefined` if it is not an IP address
 */
export function parseIp(text: string): Uint8Array | undefined {
  const address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = parseIpv4(address);
  if (v4) return mapped(v4);
  return parseIpv6(address);
}

function mapped(v4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9]\d{0,2})$/.test(parts[i]) || Number(parts[i]) > 255) {
      return undefined;
    }
    out[i] = Number(parts[i]);
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2 || text === "") return undefined;
  const groups = (half: string) => half === "" ? [] : half.split(":");
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  for (const [i, group] of [...head, ...tail].entries()) {
    const isLast = i === head.length + tail.length - 1;
    const v4 = isLast && group.includes(".") ? parseIpv4(group) : undefined;
    if (v4) {
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      words.push(parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  const missing = 8 - words.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const headWords = words.slice(0, head.length);
  const all = [
    ...headWords,
    ...new Array(halves.length === 2 ? missing : 0).fill(0),
    ...words.slice(head.length),
  ];
  const out = new Uint8Array(16);
  all.forEach((word, i) => {
    out[2 * i] = word >> 8;
    out[2 * i + 1] = word & 0xff;
  });
  return out;
}

function parseRange(entry: string): Range {
  const [address, prefixText, extra] = entry.trim().split("/");
  const bytes = parseIp(address);
  const isV4 = bytes !== undefined &&
    parseIpv4(address.replace(/^\[|\]$/g, "")) !== undefined;
  const max = isV4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (
    bytes === undefined || extra !== undefined ||
    !(prefix >= 0 && prefix <= max)
  ) {
    throw new TypeError(
      `whitelist entry ${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. "10.0.0.0/8", "::1")`,
    );
  }
  return { bytes, prefix: isV4 ? prefix + 96 : prefix };
}

/** A set of allowed peer addresses. */
export class IpWhitelist {
  #ranges: Range[];

  /**
   * @param entries addresses or CIDR ranges
   * @throws {TypeError} naming the first entry that is neither
   */
  constructor(entries: readonly string[]) {
    this.#ranges = entries.map(parseRange);
  }

  /** Whether a peer address is allowed. An address that cannot be parsed is not. */
  allows(address: string): boolean {
    const bytes = parseIp(address);
    if (bytes === undefined) return false;
    return this.#ranges.some((range) => matches(range, bytes));
  }
}

function matches({ bytes, prefix }: Range, address: Uint8Array): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== address[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (bytes[whole] & mask) === (address[whole] & mask);
}
