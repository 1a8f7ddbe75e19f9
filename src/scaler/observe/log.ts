// JSON lines on stdout, one object per event, with the ids an operator greps for (jobId, deliveryId, pod).

export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger({
  level = "info",
  write = (line: string) => process.stdout.write(line),
  base = {},
}: {
  level?: Level;
  write?: (line: string) => void;
  base?: Fields;
} = {}): Logger {
  const emit = (at: Level, message: string, fields: Fields = {}) => {
    if (ORDER[at] < ORDER[level]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: at, message, ...base, ...fields })}\n`);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

/** For tests and benches that don't read the log. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
