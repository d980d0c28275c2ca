/**
 * A structural check of MessagePack bytes before they are decoded: exactly
 * one well-formed value, nesting no deeper than a limit, and no length that
 * claims more bytes or items than the message holds. The decoder then never
 * recurses past the limit or allocates for a lying length.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";

/** Deepest nesting of arrays and maps accepted from the network. */
export const MAX_DEPTH = 256;

/**
 * Checks that `bytes` hold exactly one well-formed MessagePack value within the limits.
 *
 * @throws {BadRequestError} saying what is wrong
 */
export function checkMessagePack(bytes: Uint8Array, maxDepth: number = MAX_DEPTH): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  // Items still to read in each open container, innermost last.
  const open: number[] = [];
  let pos = 0;
  let items = 1;
  const need = (n: number) => {
    if (pos + n > end) throw new BadRequestError("truncated message: a length points past its end");
  };
  const container = (count: number) => {
    // Every item takes at least one byte: a count above what is left is a lie.
    if (count > end - pos) throw new BadRequestError("a container claims more items than the message holds");
    if (count === 0) return;
    if (open.length >= maxDepth) throw new BadRequestError(`message nested deeper than ${maxDepth} levels`);
    open.push(items);
    items = count;
  };
  for (;;) {
    while (items === 0) {
      if (open.length === 0) {
        if (pos !== end) throw new BadRequestError("trailing bytes after the message");
        return;
      }
      items = open.pop()!;
    }
    items--;
    need(1);
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) continue; // fixint, nil, bool
    if (b >= 0xa0 && b <= 0xbf) { // fixstr
      need(b & 0x1f);
      pos += b & 0x1f;
      continue;
    }
    if (b >= 0x90 && b <= 0x9f) {
      container(b & 0x0f);
      continue;
    }
    if (b >= 0x80 && b <= 0x8f) {
      container((b & 0x0f) * 2);
      continue;
    }
    switch (b) {
      case 0xc4: // bin 8
      case 0xd9: // str 8
        need(1);
        pos += 1;
        need(bytes[pos - 1]);
        pos += bytes[pos - 1];
        break;
      case 0xc5: // bin 16
      case 0xda: { // str 16
        need(2);
        const n = view.getUint16(pos);
        pos += 2;
        need(n);
        pos += n;
        break;
      }
      case 0xc6: // bin 32
      case 0xdb: { // str 32
        need(4);
        const n = view.getUint32(pos);
        pos += 4;
        need(n);
        pos += n;
        break;
      }
      case 0xc7: { // ext 8
        need(2);
        const n = bytes[pos];
        pos += 2;
        need(n);
        pos += n;
        break;
      }
      case 0xc8: { // ext 16
        need(3);
        const n = view.getUint16(pos);
        pos += 3;
        need(n);
        pos += n;
        break;
      }
      case 0xc9: { // ext 32
        need(5);
        const n = view.getUint32(pos);
        pos += 5;
        need(n);
        pos += n;
        break;
      }
      case 0xcc:
      case 0xd0:
        need(1);
        pos += 1;
        break;
      case 0xcd:
      case 0xd1:
        need(2);
        pos += 2;
        break;
      case 0xca:
      case 0xce:
      case 0xd2:
        need(4);
        pos += 4;
        break;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        need(8);
        pos += 8;
        break;
      case 0xd4: // fixext 1, 2, 4, 8, 16
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8: {
        const n = 1 + (1 << (b - 0xd4));
        need(n);
        pos += n;
        break;
      }
      case 0xdc: // array 16
        need(2);
        pos += 2;
        container(view.getUint16(pos - 2));
        break;
      case 0xdd: // array 32
        need(4);
        pos += 4;
        container(view.getUint32(pos - 4));
        break;
      case 0xde: // map 16
        need(2);
        pos += 2;
        container(view.getUint16(pos - 2) * 2);
        break;
      case 0xdf: // map 32
        need(4);
        pos += 4;
        container(view.getUint32(pos - 4) * 2);
        break;
      default: // 0xc1, never used
        throw new BadRequestError(`invalid MessagePack byte 0x${b.toString(16)}`);
    }
  }
}

/**
 * The offset just past the value that starts at `pos`, in bytes that passed
 * {@link checkMessagePack} (nothing is checked again here).
 */
export function skipValue(
  bytes: Uint8Array,
  pos: number,
  view: DataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
): number {
  // Values still to skip: containers add their items (a map two per entry).
  for (let items = 1; items > 0; items--) {
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3)) continue;
    if (b >= 0xa0 && b <= 0xbf) pos += b & 0x1f;
    else if (b >= 0x90 && b <= 0x9f) items += b & 0x0f;
    else if (b >= 0x80 && b <= 0x8f) items += (b & 0x0f) * 2;
    else if (b === 0xc4 || b === 0xd9) pos += 1 + bytes[pos];
    else if (b === 0xc5 || b === 0xda) pos += 2 + view.getUint16(pos);
    else if (b === 0xc6 || b === 0xdb) pos += 4 + view.getUint32(pos);
    else if (b === 0xc7) pos += 2 + bytes[pos];
    else if (b === 0xc8) pos += 3 + view.getUint16(pos);
    else if (b === 0xc9) pos += 5 + view.getUint32(pos);
    else if (b === 0xcc || b === 0xd0) pos += 1;
    else if (b === 0xcd || b === 0xd1) pos += 2;
    else if (b === 0xca || b === 0xce || b === 0xd2) pos += 4;
    else if (b === 0xcb || b === 0xcf || b === 0xd3) pos += 8;
    else if (b >= 0xd4 && b <= 0xd8) pos += 1 + (1 << (b - 0xd4));
    else if (b === 0xdc) (items += view.getUint16(pos)), pos += 2;
    else if (b === 0xdd) (items += view.getUint32(pos)), pos += 4;
    else if (b === 0xde) (items += view.getUint16(pos) * 2), pos += 2;
    else if (b === 0xdf) (items += view.getUint32(pos) * 2), pos += 4;
  }
  return pos;
}

/**
 * The offsets of the items of the array that starts at `pos`, followed by the
 * offset just past it, in bytes that passed {@link checkMessagePack}; or
 * `undefined` when the value there is not an array.
 */
export function arrayItems(bytes: Uint8Array, pos: number): number[] | undefined {
  const b = bytes[pos];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count: number;
  if (b >= 0x90 && b <= 0x9f) (count = b & 0x0f), pos += 1;
  else if (b === 0xdc) (count = view.getUint16(pos + 1)), pos += 3;
  else if (b === 0xdd) (count = view.getUint32(pos + 1)), pos += 5;
  else return undefined;
  const offsets = [pos];
  for (let i = 0; i < count; i++) offsets.push(pos = skipValue(bytes, pos, view));
  return offsets;
}
