// Shell the runner Pod's containers run before their real process. Kept small, POSIX sh (busybox in the dind
// image, dash in the runner image), and driven by environment variables so the Pod spec shows the inputs.

/**
 * dind's start: optional loop disk, the MTU flags, then `dockerd-entrypoint.sh dockerd …` (first argument dockerd
 * skips the image's TLS/TCP setup). Arguments after the script are the dockerd command line.
 *
 * - DIND_K8S_MTU: "auto" reads eth0's MTU now (the CNI's value, often below 1500 on overlays), or a number.
 *   `--mtu` only covers the default bridge; compose and other user-defined networks need
 *   `--default-network-opt` (Docker ≥ 24), which is added when this dockerd knows it.
 * - DIND_K8S_LOOP_IMAGE / DIND_K8S_LOOP_BYTES: a sparse ext4 image mounted at DIND_K8S_DATA_ROOT, for runtimes
 *   whose volumes are virtio-fs, which can't be an overlayfs upper layer (Kata).
 * - DIND_K8S_STOP_FILE: without native sidecars nothing stops dind when the runner is done; the runner touches
 *   this file on exit and dind then stops dockerd and exits 0, so the Pod can complete.
 * - DIND_K8S_ENTRYPOINT: the image's entrypoint; overridable so tests can run the same script on a host.
 */
export const DIND_START_SCRIPT = `set -eu
say() { echo "dind-k8s: $*" >&2; }
if [ -n "\${DIND_K8S_LOOP_IMAGE:-}" ]; then
  if [ ! -e "$DIND_K8S_LOOP_IMAGE" ]; then
    truncate -s "$DIND_K8S_LOOP_BYTES" "$DIND_K8S_LOOP_IMAGE"
    mkfs.ext4 -q -F "$DIND_K8S_LOOP_IMAGE"
  fi
  mkdir -p "$DIND_K8S_DATA_ROOT"
  mount -o loop "$DIND_K8S_LOOP_IMAGE" "$DIND_K8S_DATA_ROOT"
fi
mtu="\${DIND_K8S_MTU:-}"
if [ "$mtu" = auto ]; then
  mtu="$(cat /sys/class/net/eth0/mtu 2>/dev/null || true)"
  [ -n "$mtu" ] || say "no eth0 MTU to read; dockerd keeps its default"
fi
case "$mtu" in
  '') ;;
  *[!0-9]*) say "MTU must be a number, got '$mtu'"; exit 2 ;;
  *)
    set -- "$@" "--mtu=$mtu"
    if "$1" --help 2>/dev/null | grep -q -- --default-network-opt; then
      set -- "$@" "--default-network-opt=bridge=com.docker.network.driver.mtu=$mtu"
    else
      say "this dockerd has no --default-network-opt (Docker < 24): user-defined networks keep MTU 1500"
    fi
    # rootless: slirp4netns, between the Pod and the daemon, needs the same MTU.
    export DOCKERD_ROOTLESS_ROOTLESSKIT_MTU="$mtu"
    ;;
esac
say "starting: $*"
entrypoint="\${DIND_K8S_ENTRYPOINT:-dockerd-entrypoint.sh}"
if [ -z "\${DIND_K8S_STOP_FILE:-}" ]; then
  exec "$entrypoint" "$@"
fi
"$entrypoint" "$@" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null || true' TERM INT
while [ ! -e "$DIND_K8S_STOP_FILE" ] && kill -0 "$daemon" 2>/dev/null; do sleep 1; done
if [ -e "$DIND_K8S_STOP_FILE" ]; then
  say "the runner has exited; stopping dockerd"
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" || true
  exit 0
fi
wait "$daemon"
`;

/**
 * The runner's start without native sidecars: wait for the daemon's socket (containers start in parallel),
 * run the runner, and on any exit touch the file that tells dind to stop.
 */
export const RUNNER_LEGACY_SCRIPT = `set -u
trap 'touch "$DIND_K8S_STOP_FILE"' EXIT
socket="\${DOCKER_HOST#unix://}"
waited=0
until [ -S "$socket" ] || [ "$waited" -ge "\${DIND_K8S_SOCKET_WAIT:-120}" ]; do sleep 1; waited=$((waited + 1)); done
[ -S "$socket" ] || echo "dind-k8s: no Docker socket at $socket after \${waited}s; starting the runner anyway" >&2
"$@" &
runner=$!
trap 'kill -TERM "$runner" 2>/dev/null || true' TERM INT
# A trapped signal interrupts wait (status > 128) while the runner still runs or is not yet reaped: wait again
# until it is gone, so the exit code is the runner's own.
while :; do
  status=0
  wait "$runner" || status=$?
  kill -0 "$runner" 2>/dev/null || break
done
exit "$status"
`;
