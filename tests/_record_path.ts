/**
 * Child script for the crypto tests: prints which path a record sealer
 * takes in a process started with the environment the test chose
 * (`CYBERDB_WEBCRYPTO=1` or not): `node:crypto` or `Web Crypto`.
 *
 * @module
 */
import { RecordSealer } from "../src/crypto/record.ts";

const sealer = await RecordSealer.create(new Uint8Array(32));
console.log(`record path: ${sealer.synchronous ? "node:crypto" : "Web Crypto"}`);
