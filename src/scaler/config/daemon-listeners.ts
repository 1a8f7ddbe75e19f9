// Which dockerd arguments and dind environment could make the daemon listen anywhere but the Pod's unix socket.
// A TCP listener would hand root on the daemon (a privileged one: root on the node) to anything that reaches the
// Pod; dind-k8s sets the socket itself and refuses every other way to name a host. Pure; the config rules check
// the set's dind.args with it, and the builder checks the finished dind container (args and env) once more.

/** Why a listener is refused, said once so every message gives the same reason. */
const WHY =
  "dind-k8s puts dockerd on the Pod's unix socket only; a TCP listener would give whoever reaches the Pod the daemon (with a privileged dind, the node)";

/**
 * dockerd's one-letter flags (cobra/pflag): booleans may be grouped (`-DH tcp://…`), and a flag that takes a value
 * ends the group (the rest of the word is its value, `-lHIGH` is a log level).
 */
const SHORT_FLAGS_WITH_VALUE = new Set(["b", "G", "l", "p", "s"]);

function shortFlagsNameHost(arg: string): boolean {
  if (!/^-[^-]/.test(arg)) return false;
  for (const letter of arg.slice(1)) {
    if (letter === "H") return true;
    if (SHORT_FLAGS_WITH_VALUE.has(letter) || letter === "=") return false;
  }
  return false;
}

/** A problem per refused argument: `-H`, `-Htcp://…`, `-DH`, `--host`, `--host=…`, `--config-file[=…]`. */
export function refusedDaemonArgs(args: readonly string[]): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  args.forEach((arg, index) => {
    if (/^--host(=|$)/.test(arg) || shortFlagsNameHost(arg)) {
      problems.push({ index, message: `expected no -H/--host argument, got ${JSON.stringify(arg)}: ${WHY}` });
    } else if (/^--config-file(=|$)/.test(arg)) {
      problems.push({
        index,
        message: `expected no --config-file argument, got ${JSON.stringify(arg)}: a daemon.json can name "hosts" (TCP included) behind the arguments' back, and ${WHY}`,
      });
    }
  });
  return problems;
}

/**
 * Environment of the dind container that names a daemon host. DOCKER_HOST in dind's environment is where the
 * image's entrypoint and its docker CLI look; dind-k8s never sets it there.
 */
export function refusedDaemonEnv(names: readonly string[]): { index: number; message: string }[] {
  return names.flatMap((name, index) =>
    name === "DOCKER_HOST"
      ? [{ index, message: `expected no DOCKER_HOST in the dind container's environment: ${WHY}` }]
      : [],
  );
}
