/**
 * The server's log: one line per event on stderr, each with a level, as
 * text (`[cyberdb <time>] <level> <message> key=value ...`) or as one JSON
 * object per line (`{"time","level","message",...fields}`) for log shippers.
 * Events below the chosen level cost one comparison.
 *
 * @module
 */

/** The log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** How severe a log event is. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The log line formats. */
export const LOG_FORMATS = ["text", "json"] as const;

/** How log lines are written: human-readable text or one JSON object per line. */
export type LogFormat = typeof LOG_FORMATS[number];

/** Values attached to a log event, written as `key=value` (text) or as JSON fields. */
export type LogFields = Record<string, string | number | boolean | null>;

/** Writes one log event. */
export type LogWriter = (level: LogLevel, message: string, fields?: LogFields) => void;

/** Options of {@link makeLogger}. */
export interface LoggerOptions {
  /**
   * The least severe level written.
   *
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * The line format.
   *
   * @default {"text"}
   */
  format?: LogFormat;
  /**
   * Where lines go.
   *
   * @default {console.error}
   */
  write?: (line: string) => void;
}

/**
 * Makes a log writer.
 *
 * @param options the level, the format and where lines go
 * @returns a function writing one line per event at or above the level
 * @example
 * ```ts
 * import { makeLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = makeLogger({ format: "json", write: (line) => lines.push(line) });
 * log("debug", "not written");
 * log("info", "loaded", { tables: 2 });
 * console.log(JSON.parse(lines[0]).tables); // 2
 * ```
 */
export function makeLogger(options: LoggerOptions = {}): LogWriter {
  const least = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => console.error(line));
  const json = options.format === "json";
  return (level, message, fields) => {
    if (LOG_LEVELS.indexOf(level) < least) return;
    const time = new Date().toISOString();
    if (json) {
      write(JSON.stringify({ time, level, message, ...fields }));
      return;
    }
    let line = `[cyberdb ${time}] ${level} ${message.replaceAll("\n", "\\n")}`;
    for (const [key, value] of Object.entries(fields ?? {})) line += ` ${key}=${JSON.stringify(value)}`;
    write(line);
  };
}
