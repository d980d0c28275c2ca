/**
 * The `client.ts` command: an interactive shell on a cyberdb server, or one
 * command run for a script. Reads and prints through the runtime interface.
 *
 * ```sh
 * deno run -A client.ts --port 9980 --password 123456                     # a prompt
 * deno run -A client.ts --port 9980 --password 123456 get centre content  # one command
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CONNECTION_FLAGS, FlagError, passwordFlag, portFlag } from "../command_line.ts";
import { CyberDBError } from "../errors.ts";
import { runtime } from "../runtime/mod.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT } from "../protocol/messages.ts";
import { VERSION } from "../version.ts";
import type { Client } from "./client.ts";
import { connect, parseConnectUrl, URL_VARIABLE } from "../engines/remote/mod.ts";
import type { ConnectOptions } from "../engines/remote/connection.ts";
import { runPrompt } from "./prompt.ts";
import { type Command, HELP, parseLine, parseWords, runCommand, UsageError } from "./shell.ts";

/** How the shell is started: from the repository under Deno, as the npm package's bin under Node. */
const COMMAND = runtime.name === "deno" ? "deno run -A client.ts" : "npx cyberdb";

/** The `--help` text. */
export const USAGE = `Usage: ${COMMAND} [options] [command ...]

Opens a prompt on a cyberdb server; with a command, runs just that command,
prints the result and exits (0 on success, 1 with the error code on stderr
for a failed request, 2 for a bad command line).

Options (before the command):
  -u, --url <url>     the server as a URL: cyberdb[s]://[:password@]host[:port][?encrypt=1] or
                      cyberdb+unix:///path/to/socket[?password=...] (default: the CYBERDB_URL
                      environment variable; instead of --hostname, --port and --unix)
  --hostname <host>   server address (default 127.0.0.1)
  --port <port>       server port (default ${DEFAULT_PORT})
  --unix <path>       connect to the server's Unix domain socket instead of TCP
  --password <pw>     the server's password (default: the CYBERDB_PASSWORD environment variable)
  --encrypt           require an encrypted connection
  --tls               connect over TLS (the server has --tls-cert), checking its certificate
                      against the system's CAs; a cyberdbs:// URL does the same
  --tls-ca <file>     also trust the CA certificate(s) in this PEM file (implies --tls)
  -h, --help          show this help
  -v, --version       print the version and exit
  --                  end of options: what follows is the command even if it starts with -

Examples:
  ${COMMAND} --port ${DEFAULT_PORT} --password 123456
  ${COMMAND} -u cyberdb://:123456@127.0.0.1:${DEFAULT_PORT}?encrypt=1 info
  ${COMMAND} --password 123456 get centre content
  ${COMMAND} --password 123456 -- set log 0 -1

${HELP}
`;

const STRING_FLAGS = new Set(["--hostname", "--port", "--unix", "--password", "--url", "-u", "--tls-ca"]);

/** The shell's options: where and how to connect, and a CA file to read for TLS. */
type ShellOptions = ConnectOptions & { caFile?: string };
const PROMPT = "cyberdb> ";

/** Where the shell connects, for messages. */
function where(options: ConnectOptions): string {
  return options.path === undefined ? `${options.hostname}:${options.port}` : options.path;
}

/** Splits the arguments at the first word that is not an option: options before, the command after. */
function splitArgs(args: readonly string[]): { options: string[]; command: string[] } {
  for (let at = 0; at < args.length; at++) {
    const arg = args[at];
    if (arg === "--") return { options: args.slice(0, at), command: args.slice(at + 1) };
    if (STRING_FLAGS.has(arg)) at++;
    // Any other word starting with "-" is an option too, a wrong one that parseArgs will report.
    else if (!arg.startsWith("-")) return { options: args.slice(0, at), command: args.slice(at) };
  }
  return { options: [...args], command: [] };
}

function describe(error: unknown): string {
  if (error instanceof CyberDBError) return `error ${error.code}: ${error.message}`;
  return `error: ${(error as Error).message ?? String(error)}`;
}

async function run(client: Client, command: Command): Promise<string> {
  await using proxy = await client.getProxy().connect();
  return await runCommand(proxy, command);
}

async function shell(client: Client, where: string): Promise<void> {
  const answer = async (line: string): Promise<string | "quit"> => {
    try {
      const command = parseLine(line);
      if (command?.name === "quit") return "quit";
      return command === undefined ? "" : `${await run(client, command)}\n`;
    } catch (error) {
      return `${describe(error)}\n`;
    }
  };
  if (runtime.stdinIsTerminal()) {
    await runtime.print(`cyberdb ${VERSION} at ${where}; type help for the commands, quit to leave\n`);
    await runPrompt(PROMPT, {
      line: answer,
      async tables() {
        await using proxy = await client.getProxy().connect();
        return (await proxy.tables()).map((table) => table.name);
      },
    });
    return;
  }
  for await (const line of runtime.readLines()) {
    const output = await answer(line);
    if (output === "quit") break;
    await runtime.print(output);
  }
}

/**
 * Runs the client command: a prompt, or the one command given after the options.
 *
 * @param args command-line arguments
 * @returns the process exit code: 0 on success, 1 when the server cannot be reached or a
 *   request fails (the error code on stderr), 2 for bad options or a bad command
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * await main(["--help"]); // prints the usage, returns 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const split = splitArgs(args);
  let options: ShellOptions | "help" | "version";
  try {
    options = parseOptions(split.options);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (typeof options === "object" && options.caFile !== undefined) {
    const { caFile, ...rest } = options;
    try {
      options = { ...rest, tls: { caCerts: [new TextDecoder().decode(await runtime.readFile(caFile))] } };
    } catch (error) {
      console.error(`error: cannot read --tls-ca ${caFile}: ${(error as Error).message}`);
      return 2;
    }
  }
  if (options === "help") {
    await runtime.print(USAGE);
    return 0;
  }
  if (options === "version") {
    await runtime.print(`cyberdb ${VERSION}\n`);
    return 0;
  }
  let command: Command | undefined;
  try {
    if (split.command.length > 0) command = parseWords(split.command);
  } catch (error) {
    console.error(describe(error));
    return 2;
  }
  if (command?.name === "help") {
    await runtime.print(`${HELP}\n`);
    return 0;
  }
  if (command?.name === "quit") return 0;
  return await connectAndRun(options, command);
}

/** Parses and checks the options before the command; `"help"` or `"version"` when `--help` or `--version` was asked for. */
function parseOptions(args: string[]): ShellOptions | "help" | "version" {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      ...CONNECTION_FLAGS,
      url: { type: "string", short: "u" },
      tls: { type: "boolean" },
      "tls-ca": { type: "string" },
    },
  });
  const tls = values["tls-ca"] !== undefined || values.tls ? { tls: {}, caFile: values["tls-ca"] } : {};
  if (values.unix !== undefined && tls.tls) throw new FlagError("--tls is for TCP: drop --tls or --unix");
  if (values.help) return "help";
  if (values.version) return "version";
  const placed = values.hostname !== undefined || values.port !== undefined || values.unix !== undefined;
  const url = values.url ?? (placed ? undefined : runtime.env(URL_VARIABLE));
  if (url !== undefined) {
    if (placed) throw new FlagError("--url says where the server is: drop --hostname, --port and --unix, or --url");
    let fromUrl: ConnectOptions;
    try {
      fromUrl = parseConnectUrl(url);
    } catch (error) {
      throw new FlagError(`${values.url === undefined ? URL_VARIABLE : "--url"}: ${(error as Error).message}`);
    }
    return {
      hostname: DEFAULT_HOSTNAME,
      port: DEFAULT_PORT,
      ...fromUrl,
      password: values.password ?? fromUrl.password ?? passwordFlag(undefined),
      encrypt: values.encrypt || (fromUrl.encrypt ?? false),
      ...tls,
    };
  }
  return {
    hostname: values.hostname ?? DEFAULT_HOSTNAME,
    port: portFlag(values.port, 1) ?? DEFAULT_PORT,
    path: values.unix,
    password: passwordFlag(values.password),
    encrypt: values.encrypt ?? false,
    ...tls,
  };
}

/** Connects, then runs `command`, or the prompt without one; the exit code. */
async function connectAndRun(options: ConnectOptions, command: Command | undefined): Promise<number> {
  let client: Client;
  try {
    client = await connect(options);
  } catch (error) {
    console.error(`${describe(error)}\n(connecting to ${where(options)})`);
    return 1;
  }
  try {
    if (command === undefined) {
      await shell(client, where(options));
      return 0;
    }
    await runtime.print(`${await run(client, command)}\n`);
    return 0;
  } catch (error) {
    console.error(describe(error));
    return error instanceof UsageError ? 2 : 1;
  } finally {
    await client.close();
  }
}
