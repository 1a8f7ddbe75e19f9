// What a test run leaves on the machine besides processes: its temp dir, its network bridge and the firewall rules
// dockerd made for that bridge. The daemons' guards (daemon.ts) stop the processes when the Node process goes away;
// the janitor, a guard of its own, then removes the rest — also when the run was cut short (Ctrl-C, SIGTERM,
// SIGKILL, a crash) before its teardown ran. A normal teardown cleans up first; the janitor then finds nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";

export interface Janitor {
  /** A bridge to delete, with the iptables rules that name it. */
  addBridge(name: string): void;
  /** Cleans up now (after the daemons stopped) and exits. */
  stop(): Promise<void>;
}

// $1: the run dir; $2: "keep" to leave it. stdin: `bridge <name>` lines, then EOF (we are done or gone).
const SCRIPT = String.raw`
trap '' INT TERM HUP
run_dir="$1"
bridges=""
while read -r kind name; do
  [ "$kind" = bridge ] && bridges="$bridges $name"
done
# The daemons' guards got the same EOF and give their daemons up to 10 s to stop.
for _ in $(seq 150); do
  pgrep -f -- "$run_dir" | grep -qvx "$$" || break
  sleep 0.1
done
for bridge in $bridges; do
  ip link del "$bridge" 2>/dev/null
  for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null | grep -F -- "$bridge" | grep '^-A ' | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null; done
  done
done
# A daemon that was killed leaves its mounts (overlay layers, its exec root) under the run dir.
awk -v dir="$run_dir/" 'index($2, dir) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mount; do
  umount -l "$mount" 2>/dev/null
done
[ "$2" = keep ] || rm -rf -- "$run_dir"
`;

export function startJanitor(runDir: string, { keepDir }: { keepDir: boolean }): Janitor {
  const child: ChildProcess = spawn("bash", ["-c", SCRIPT, "janitor", runDir, keepDir ? "keep" : ""], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  const exited = once(child, "exit");
  return {
    addBridge(name) {
      child.stdin?.write(`bridge ${name}\n`);
    },
    async stop() {
      child.stdin?.end();
      await exited;
    },
  };
}
