/**
 * The value rules, applied to everything before it is encoded (requests on
 * the client side, whatever the engine, and replies on the server side): a
 * value either reads back exactly as written or is refused before anything
 * is sent, with a `BAD_REQUEST` naming where in the value the problem is.
 *
 * Kept exactly: `null`, booleans, numbers (`-0` and `NaN` included), bigints,
 * strings (lone surrogates included), `Uint8Array`, `Date`, arrays, plain
 * objects (prototype `Object.prototype` or `null`), `Map` and `Set`, nested
 * freely up to {@link MAX_VALUE_DEPTH} levels.
 *
 * Not part of a value, as in `structuredClone` and `JSON.stringify`: members
 * keyed by a symbol (looking for them costs more than encoding a small object).
 *
 * Refused: functions, symbols, `undefined` as a stored
 * value or member, instances of any other class (typed arrays other than
 * `Uint8Array`, `ArrayBuffer`, `RegExp`, `Error`, boxed primitives, user
 * classes, subclasses of `Map`, `Set` and `Array`), and nesting deeper than
 * the limit (which also catches cycles).
 *
 * The walk returns the value itself when nothing needs an extension type
 * (the common case: no copy is made) and otherwise a copy in which the
 * values MessagePack has no form for are wrapped for the codec.
 *
 * @module
 */
import { BadRequestError } from "../errors.ts";
import { MAX_DEPTH } from "./msgpack_scan.ts";

/**
 * Deepest nesting of a value (an array, object, `Map` or `Set` is one level):
 * below the request limit of the wire ({@link MAX_DEPTH}) with room for the
 * request's own arrays, so every op and every engine refuses at the same depth.
 */
export const MAX_VALUE_DEPTH = MAX_DEPTH - 16;

/** A string that is not well-formed UTF-16, to be written as `EXT_STRING`. */
export class LooseString {
  /** @param text the string */
  constructor(readonly text: string) {}
}

/** A `Map`'s entries, flat, to be written as `EXT_MAP`. */
export class MapItems {
  /** @param items `[k1, v1, k2, v2, …]`, already walked */
  constructor(readonly items: unknown[]) {}
}

/** A `Set`'s items, to be written as `EXT_SET`. */
export class SetItems {
  /** @param items the items, already walked */
  constructor(readonly items: unknown[]) {}
}

/** A plain object with a key that is not well-formed UTF-16, to be written as `EXT_OBJECT`. */
export class ObjectItems {
  /** @param items `[k1, v1, …]`, keys as strings or {@link LooseString}s, already walked */
  constructor(readonly items: unknown[]) {}
}

/** `-0`, to be written as a float 64 (msgpackr writes it as the integer 0). */
export class NegativeZero {}

const NEGATIVE_ZERO = new NegativeZero();

/** How a value is walked. */
export interface PrepareOptions {
  /** The value's name at the root of error paths. @default {"value"} */
  name?: string;
  /** Whether `undefined` is refused (stored values) or allowed (optional arguments). @default {true} */
  strict?: boolean;
  /** Levels of nesting already open around the value (the request's arrays). @default {0} */
  depth?: number;
  /** Deepest nesting accepted, counting `depth`. @default {MAX_VALUE_DEPTH} */
  maxDepth?: number;
}

/** Thrown inside the walk; turned into a `BadRequestError` with the path at the top. */
class Refusal {
  constructor(readonly what: string) {}
}

/**
 * Checks a value against the value rules and prepares it for the codec.
 *
 * @param value anything
 * @param options the value's name in messages, strictness and depth
 * @returns `value` itself, or a copy with the values MessagePack has no form for wrapped
 * @throws {BadRequestError} naming the path of the first value refused
 * @example
 * ```ts
 * import { prepareValue } from "./values.ts";
 * try {
 *   prepareValue({ items: [1, 2, 3, { fn: () => 1 }] });
 * } catch (error) {
 *   console.log((error as Error).message); // value.items[3].fn is a function: ...
 * }
 * ```
 */
export function prepareValue(value: unknown, options: PrepareOptions = {}): unknown {
  const strict = options.strict ?? true, maxDepth = options.maxDepth ?? MAX_VALUE_DEPTH;
  try {
    return new Walker(undefined, strict, maxDepth).walk(value, options.depth ?? 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
  }
  // Refused: walk again, keeping track of the path this time (the fast walk keeps none).
  const path: (string | number | PathStep)[] = [];
  try {
    new Walker(path, strict, maxDepth).walk(value, options.depth ?? 0);
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    throw new BadRequestError(`${formatPath(options.name ?? "value", path)} ${error.what}`);
  }
  throw new BadRequestError(`${options.name ?? "value"} changed while it was being checked`);
}

/** A step of a path that is not an index or a property: into a `Map` or a `Set`. */
interface PathStep {
  step: string;
}

class Walker {
  constructor(
    /** Where the walk is, kept only when a refusal is being explained. */
    readonly path: (string | number | PathStep)[] | undefined,
    readonly strict: boolean,
    readonly maxDepth: number,
  ) {}

  walk(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case "string":
        return wellFormed(value) ? value : new LooseString(value);
      case "number":
        return value === 0 && 1 / value < 0 ? NEGATIVE_ZERO : value;
      case "boolean":
      case "bigint":
        return value;
      case "undefined":
        if (this.strict) {
          throw new Refusal("is undefined: undefined is not stored (store null, or leave the member out)");
        }
        return value;
      case "function":
        throw new Refusal("is a function: functions are not stored (store the data it works on)");
      case "symbol":
        throw new Refusal("is a symbol: symbols are not stored (store a string)");
    }
    if (value === null) return value;
    const object = value as object;
    if (depth >= this.maxDepth) {
      throw new Refusal(`nests deeper than ${this.maxDepth} levels (or refers to itself): store it flatter`);
    }
    if (Array.isArray(object)) {
      if (Object.getPrototypeOf(object) !== Array.prototype) throw new Refusal(instanceOf(object));
      return this.#array(object, depth + 1);
    }
    const proto = Object.getPrototypeOf(object);
    if (proto === Object.prototype || proto === null) return this.#object(object as Record<string, unknown>, depth + 1);
    if (object instanceof Uint8Array || object instanceof Date) return object;
    if (proto === Map.prototype) return this.#map(object as Map<unknown, unknown>, depth + 1);
    if (proto === Set.prototype) return this.#set(object as Set<unknown>, depth + 1);
    if (ArrayBuffer.isView(object)) {
      throw new Refusal(
        `is ${article(object.constructor.name)}: only Uint8Array is stored among binary views ` +
          `(store new Uint8Array(view.buffer, view.byteOffset, view.byteLength), or an array of numbers)`,
      );
    }
    throw new Refusal(instanceOf(object));
  }

  #array(array: unknown[], depth: number): unknown {
    const path = this.path;
    let copy: unknown[] | undefined;
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      // The common items need no call: numbers other than 0 (-0 needs a float), booleans, null.
      if ((typeof item === "number" && item !== 0) || typeof item === "boolean" || item === null) continue;
      path?.push(i);
      const walked = this.walk(item, depth);
      path?.pop();
      if (walked !== item) (copy ??= array.slice())[i] = walked;
    }
    return copy ?? array;
  }

  #object(object: Record<string, unknown>, depth: number): unknown {
    const path = this.path, keys = Object.keys(object);
    let copy: Record<string, unknown> | undefined;
    // msgpackr renames a `__proto__` key (to keep it from setting a prototype); the extension keeps it.
    let loose = false;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i], member = object[key];
      if (key === "__proto__" || !wellFormed(key)) loose = true;
      if ((typeof member === "number" && member !== 0) || typeof member === "boolean" || member === null) continue;
      path?.push(key);
      const walked = this.walk(member, depth);
      path?.pop();
      if (walked !== member) (copy ??= { ...object })[key] = walked;
    }
    const result = copy ?? object;
    if (!loose) return result;
    const items: unknown[] = [];
    for (const key of keys) items.push(wellFormed(key) ? key : new LooseString(key), result[key]);
    return new ObjectItems(items);
  }

  #map(map: Map<unknown, unknown>, depth: number): MapItems {
    const path = this.path, items: unknown[] = [];
    let i = 0;
    for (const [key, member] of map) {
      path?.push({ step: `.keys()[${i}]` });
      items.push(this.walk(key, depth));
      path?.pop();
      path?.push({ step: `.get(${describeKey(key)})` });
      items.push(this.walk(member, depth));
      path?.pop();
      i++;
    }
    return new MapItems(items);
  }

  #set(set: Set<unknown>, depth: number): SetItems {
    const path = this.path, items: unknown[] = [];
    let i = 0;
    for (const item of set) {
      path?.push({ step: `.values()[${i++}]` });
      items.push(this.walk(item, depth));
      path?.pop();
    }
    return new SetItems(items);
  }
}

/** `String.prototype.isWellFormed` (ES2024, in Node ≥ 20 and Deno; the npm build's TypeScript lib is older). */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/** Whether a string holds no lone surrogate, so UTF-8 can carry it. */
function wellFormed(text: string): boolean {
  return isWellFormed.call(text);
}

function instanceOf(object: object): string {
  const name = (object.constructor as { name?: string } | undefined)?.name || "an unnamed class";
  return `is an instance of ${name}: only plain objects, arrays, Map, Set, Date and Uint8Array are stored ` +
    `(convert it to a plain object first)`;
}

function article(name: string): string {
  return `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}`;
}

function describeKey(key: unknown): string {
  if (typeof key === "string") return JSON.stringify(key);
  if (typeof key === "number" || typeof key === "boolean" || key === null || key === undefined) return String(key);
  if (typeof key === "bigint") return `${key}n`;
  return "…";
}

/** How many steps of a long path are shown at each end. */
const PATH_ENDS = 8;

function formatPath(name: string, path: readonly (string | number | PathStep)[]): string {
  const step = (part: string | number | PathStep) =>
    typeof part === "number"
      ? `[${part}]`
      : typeof part === "string"
      ? /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`
      : part.step;
  if (path.length <= 2 * PATH_ENDS) return name + path.map(step).join("");
  return name + path.slice(0, PATH_ENDS).map(step).join("") + "…" + path.slice(-PATH_ENDS).map(step).join("");
}
