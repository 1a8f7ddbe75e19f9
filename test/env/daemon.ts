import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";

/**
 * A long-running process of the test environment (etcd, kube-apiserver, dockerd).
 *
 * Each daemon runs under a small bash guard that holds the read end of a pipe from us: when this
 * Node process goes away for any reason (even SIGKILL), the pipe closes, the guard's `read`
 * returns and it stops the daemon. So a crashed test run leaves no process behind.
 */
export class Daemon {
  readonly name: string;
  readonly logFile: string;
  readonly #guard: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(name: string, logFile: string, guard: ChildProcess) {
    this.name = name;
    this.logFile = logFile;
    this.#guard = guard;
    this.#exited = once(guard, "exit").then(([code]) => code as number | null);
  }

  static start(name: string, command: string, args: readonly string[], logFile: string): Daemon {
    const log = createWriteStream(logFile, { flags: "a" });
    // $1.. are the daemon's argv. The daemon's stdin is /dev/null so only the guard reads our pipe.
    const guardScript = [
      '"$@" </dev/null &',
      "child=$!",
      // Stop the daemon when we are told to, or when our parent is gone (stdin closes).
      'trap \'kill -TERM "$child" 2>/dev/null; wait "$child"; exit\' TERM',
      "read -r _ || true",
      'kill -TERM "$child" 2>/dev/null',
      // Give it 10 s to stop cleanly, then kill it.
      'for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || exit 0; sleep 0.1; done',
      'kill -KILL "$child" 2>/dev/null',
    ].join("\n");
    const guard = spawn("bash", ["-c", guardScript, name, command, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    guard.stdout?.pipe(log);
    guard.stderr?.pipe(log);
    return new Daemon(name, logFile, guard);
  }

  /** Resolves with the exit code if the daemon stops on its own (used to fail fast while waiting). */
  get exited(): Promise<number | null> {
    return this.#exited;
  }

  get running(): boolean {
    return this.#guard.exitCode === null && this.#guard.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.#guard.stdin?.end();
    await this.#exited;
  }
}
