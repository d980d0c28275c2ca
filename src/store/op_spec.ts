/**
 * The shape of one entry of the op table (`store.ts`, `list_ops.ts`).
 *
 * @module
 */
import type { TableKind } from "../protocol/messages.ts";
import type { DictChange, ListChange } from "./changes.ts";

/** How one op is checked and applied. */
export interface OpSpec<T> {
  /** Which table kind the op applies to; `undefined` for store-wide ops. */
  kind?: TableKind;
  /** Least and most arguments after the table name. */
  arity: [number, number];
  /** Whether the op can change the store (and so must be journaled). */
  writes: boolean;
  /** Applies the op; a write tells `emit` what it changed, once applied. */
  run(target: T, args: unknown[], op: string, emit: Emit): unknown;
}

/** Reports one applied change to the table an op ran on. */
export type Emit = (change: DictChange | ListChange) => void;

/** The `emit` of an op whose changes nobody watches. */
export function ignore(): void {}
