/**
 * Prometheus metrics of a server: counters the request path bumps (requests
 * by op, errors by code, a latency histogram with fixed buckets — no
 * allocation per request once an op or code has been seen), and the text
 * exposition format (version 0.0.4) served over plain HTTP on `--metrics`.
 * The HTTP side is a minimal GET responder over the runtime's TCP listener.
 *
 * @module
 */
import { runtime } from "../runtime/mod.ts";
import type { Conn, Listener } from "../runtime/mod.ts";
import type { ServerInfo } from "../protocol/messages.ts";
import { type DiskTimings, Durations } from "../store/durations.ts";

/** Upper bounds in seconds of the request latency histogram's buckets (`+Inf` is implied). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.1,
  1,
];

/** The counters the request path updates. */
export class RequestMetrics {
  /** Requests applied, by op. */
  readonly byOp: Map<string, number> = new Map();
  /** Error replies, by code. */
  readonly byCode: Map<string, number> = new Map();
  /** Time to apply each request. */
  readonly latency: Durations = new Durations(LATENCY_BUCKETS);
  /** Bytes read from client connections closed so far (handshakes, requests, records as on the wire). */
  bytesIn = 0;
  /** Bytes written to client connections closed so far. */
  bytesOut = 0;

  /**
   * Adds a connection's bytes once it is closed (the open ones are summed at each scrape).
   *
   * @param conn the closed connection
   */
  closed(conn: Conn): void {
    this.bytesIn += conn.bytesRead;
    this.bytesOut += conn.bytesWritten;
  }

  /**
   * Counts one request.
   *
   * @param op the request's op
   * @param seconds how long applying it took
   * @param code the error code of its reply, if it failed
   */
  observe(op: string, seconds: number, code?: string): void {
    this.byOp.set(op, (this.byOp.get(op) ?? 0) + 1);
    if (code !== undefined) this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    this.latency.observe(seconds);
  }
}

function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * Renders the metrics in the Prometheus text exposition format.
 *
 * @param metrics the request counters
 * @param info the server's `info()`
 * @param disk journal and snapshot timings
 * @param open the connections open now, whose bytes are not yet in `metrics`
 * @returns the exposition text, ending with a newline
 * @example
 * ```ts
 * import { diskTimings } from "../store/durations.ts";
 * import { RequestMetrics, renderMetrics } from "./metrics.ts";
 * import { Server } from "./server.ts";
 * const server = new Server();
 * await server.start({ port: 0 });
 * const text = renderMetrics(new RequestMetrics(), server.info(), diskTimings());
 * console.log(text.includes("# TYPE cyberdb_requests_total counter")); // true
 * await server.close();
 * ```
 */
export function renderMetrics(
  metrics: RequestMetrics,
  info: ServerInfo,
  disk: DiskTimings,
  open: Iterable<Conn> = [],
): string {
  let bytesIn = metrics.bytesIn, bytesOut = metrics.bytesOut;
  for (const conn of open) {
    bytesIn += conn.bytesRead;
    bytesOut += conn.bytesWritten;
  }
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  family("cyberdb_uptime_seconds", "gauge", "Seconds since the server started.", [["", info.uptime]]);
  family("cyberdb_connections", "gauge", "Connections open now.", [["", info.connections.current]]);
  family("cyberdb_connections_total", "counter", "Connections accepted since start.", [["", info.connections.total]]);
  family("cyberdb_connections_refused_total", "counter", "Connections refused since start.", [[
    "",
    info.connections.refused,
  ]]);
  family(
    "cyberdb_requests_total",
    "counter",
    "Requests applied, by op.",
    [...metrics.byOp].map(([op, n]) => [`{op="${label(op)}"}`, n]),
  );
  family(
    "cyberdb_errors_total",
    "counter",
    "Error replies, by code.",
    [...metrics.byCode].map(([code, n]) => [`{code="${label(code)}"}`, n]),
  );
  const histogram = (name: string, help: string, durations: Durations) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    let cumulative = 0;
    for (let at = 0; at <= durations.bounds.length; at++) {
      cumulative += durations.buckets[at];
      const le = at < durations.bounds.length ? String(durations.bounds[at]) : "+Inf";
      out.push(`${name}_bucket{le="${le}"} ${cumulative}`);
    }
    out.push(`${name}_sum ${durations.sum}`, `${name}_count ${durations.count}`);
  };
  histogram(
    "cyberdb_request_duration_seconds",
    "Time to apply a request (before any journal commit).",
    metrics.latency,
  );
  family("cyberdb_received_bytes_total", "counter", "Bytes read from client connections.", [["", bytesIn]]);
  family("cyberdb_sent_bytes_total", "counter", "Bytes written to client connections.", [["", bytesOut]]);
  family("cyberdb_memory_rss_bytes", "gauge", "Resident memory of the server process.", [["", info.memory.rss]]);
  family(
    "cyberdb_table_size",
    "gauge",
    "Entries (dict) or items (list) of each table.",
    info.tables.map((t) => [`{table="${label(t.name)}",type="${t.type}"}`, t.size]),
  );
  family("cyberdb_journal_bytes", "gauge", "Size of the journal (0 when not journaling).", [[
    "",
    info.journal?.size ?? 0,
  ]]);
  histogram(
    "cyberdb_journal_write_duration_seconds",
    "Time to hand a batch of journal records to the OS (one write per commit).",
    disk.journalWrite,
  );
  histogram("cyberdb_journal_fsync_duration_seconds", "Time of each fsync of the journal.", disk.journalSync);
  histogram(
    "cyberdb_snapshot_save_duration_seconds",
    "Time to save a snapshot: capture the tables, encode, write, fsync and rename the file.",
    disk.snapshotSave,
  );
  family(
    "cyberdb_snapshot_load_duration_seconds",
    "gauge",
    "Time the last snapshot load took to decode the file and replace the tables (0: none loaded).",
    [["", disk.lastLoad]],
  );
  const snapshot = info.lastSnapshot;
  family(
    "cyberdb_last_snapshot_timestamp_seconds",
    "gauge",
    "When the last snapshot was saved or loaded (0: none yet).",
    [["", snapshot === null ? 0 : new Date(snapshot.at).getTime() / 1000]],
  );
  family("cyberdb_last_snapshot_ok", "gauge", "1 when the last snapshot succeeded.", [[
    "",
    snapshot?.ok === false ? 0 : 1,
  ]]);
  return `${out.join("\n")}\n`;
}

/** A running metrics endpoint. */
export interface MetricsEndpoint {
  /** Where it listens. */
  readonly hostname: string;
  /** Its port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops listening. */
  close(): void;
}

/**
 * Serves `GET /metrics` (any path answers the same) as Prometheus text over HTTP/1.0.
 *
 * @param address where to listen
 * @param render the exposition text, made per scrape
 * @returns the endpoint
 * @example
 * ```ts
 * import { serveMetrics } from "./metrics.ts";
 * const endpoint = await serveMetrics({ hostname: "127.0.0.1", port: 0 }, () => "up 1\n");
 * endpoint.close();
 * ```
 */
export async function serveMetrics(
  address: { hostname: string; port: number },
  render: () => string,
): Promise<MetricsEndpoint> {
  const listener: Listener = await runtime.listen(address);
  (async () => {
    for (;;) {
      const conn = await listener.accept().catch(() => null);
      if (conn === null) return;
      answer(conn, render).catch(() => conn.close());
    }
  })();
  return { hostname: listener.addr.hostname, port: listener.addr.port, close: () => listener.close() };
}

async function answer(conn: Conn, render: () => string): Promise<void> {
  const decoder = new TextDecoder();
  let head = "";
  const until = Date.now() + 5000;
  while (!head.includes("\r\n\r\n") && head.length < 8192 && Date.now() < until) {
    const chunk = await conn.read();
    if (chunk === null) break;
    head += decoder.decode(chunk, { stream: true });
  }
  const ok = head.startsWith("GET ");
  const body = ok ? render() : "only GET\n";
  const bytes = new TextEncoder().encode(body);
  const status = ok ? "200 OK" : "405 Method Not Allowed";
  await conn.write(new TextEncoder().encode(
    `HTTP/1.0 ${status}\r\ncontent-type: text/plain; version=0.0.4; charset=utf-8\r\n` +
      `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`,
  ));
  await conn.write(bytes);
  conn.close();
}
