/**
 * The machinery of the model-based suites: a seeded random stream, the
 * outcome of an op locally and on the engine, and the loop that compares
 * both, result and whole table, after every step.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { inspect } from "node:util";
import { CyberDBError } from "../../mod.ts";
import { mulberry32 } from "../_random.ts";

/** Operations per model run. */
export const STEPS = 10_000;
/** The first seed; `MODEL_SEED=<seed>` reruns one. */
export const BASE_SEED = process.env.MODEL_SEED === undefined ? 0x5eed_c0de : Number(process.env.MODEL_SEED);

/** A seeded stream of random choices. */
export class Random {
  #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.#next();
  }
  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)];
  }
}

/** An error the local model raises where the server must raise the same code. */
export class ModelError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export type Outcome = { ok: unknown } | { error: string };

/** One operation, as the model applies it and as the remote table applies it. */
export interface Op {
  desc: string;
  local(): unknown;
  remote(): Promise<unknown>;
}

export function localOutcome(op: Op): Outcome {
  try {
    return { ok: op.local() };
  } catch (error) {
    if (error instanceof ModelError) return { error: error.code };
    throw error;
  }
}

export function remoteOutcome(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (ok) => ({ ok }),
    (error) => {
      if (error instanceof CyberDBError) return { error: error.code };
      throw error;
    },
  );
}

/** A value as one line, for failure messages. */
export const show = (value: unknown) => inspect(value, { depth: 6, breakLength: Infinity });

/**
 * Runs `STEPS` random operations; after each one, compares its outcome and the
 * whole remote state (fetched in the same round trip) with the model's.
 */
export async function runModel(
  seed: number,
  nextOp: (random: Random) => Op,
  remoteState: () => Promise<unknown>,
  localState: () => unknown,
): Promise<void> {
  const random = new Random(seed);
  for (let step = 0; step < STEPS; step++) {
    const op = nextOp(random);
    const gotOutcome = remoteOutcome(op.remote());
    const gotState = remoteState(); // pipelined behind the op: sees its effect
    const expected = localOutcome(op);
    const where = `seed ${seed} (rerun with MODEL_SEED=${seed}), step ${step}, ${op.desc}`;
    assert.deepStrictEqual(await gotOutcome, expected, `${where}: the result differs from the model`);
    assert.deepStrictEqual(await gotState, localState(), `${where}: the table differs from the model`);
  }
}
