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
 * - DIND_K8S_CACHE_VOLUME: DIND_K8S_DATA_ROOT is a cache volume that earlier daemons wrote to. Before the real daemon
 *   starts, a maintenance daemon on a private socket (so the runner can't start on it) checks it when
 *   DIND_K8S_CACHE_CHECK is set (the last Pod on it ended uncleanly: a daemon that can't start or list its images
 *   there means the data is damaged, and the volume is emptied) and prunes when it holds more than
 *   DIND_K8S_CACHE_PRUNE_ABOVE bytes (first what nothing used for 24 h, then everything unused). On exit the
 *   script reports the data size and whether dockerd stopped cleanly as the container's termination message,
 *   which the scaler keeps on the claim for the next Pod and for metrics.
 * - A cache volume carries images and build cache to the next job, never a job's running state. Before any daemon
 *   starts on it: every container's restart policy is set to "no" (so no daemon starts a container a job left),
 *   swarm and plugin state are removed; containers and volumes the previous job left are removed through the
 *   maintenance daemon, and the network store is deleted once no container is left (dockerd makes its default
 *   networks again). DIND_K8S_CACHE_WIPE: the claim was last used for another repository: it is emptied first.
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
entrypoint="\${DIND_K8S_ENTRYPOINT:-dockerd-entrypoint.sh}"
cache_bytes() {
  # A claim is its own filesystem: df is instant where du would walk every layer.
  if mountpoint -q "$DIND_K8S_DATA_ROOT" 2>/dev/null; then
    kb="$(df -Pk "$DIND_K8S_DATA_ROOT" | awk 'NR == 2 { print $3 }')"
  else
    kb="$(du -skx "$DIND_K8S_DATA_ROOT" 2>/dev/null | cut -f1)"
  fi
  echo "$(( \${kb:-0} * 1024 ))"
}
# The dockerd command line with its --host replaced by a private socket, started in the background.
maintenance_daemon() {
  sock="$1"
  shift
  for arg do
    shift
    case "$arg" in --host=*) ;; *) set -- "$@" "$arg" ;; esac
  done
  "$entrypoint" "$@" "--host=unix://$sock" >&2 &
  maint=$!
}
maintenance_ready() {
  tries=0
  while [ "$tries" -lt "$(( \${DIND_K8S_CACHE_CHECK_SECONDS:-60} * 5 ))" ]; do
    kill -0 "$maint" 2>/dev/null || return 1
    docker --host="unix://$sock" version >/dev/null 2>&1 && return 0
    sleep 0.2
    tries=$((tries + 1))
  done
  return 1
}
empty_data_root() {
  rm -rf "$DIND_K8S_DATA_ROOT"/* "$DIND_K8S_DATA_ROOT"/.[!.]* "$DIND_K8S_DATA_ROOT"/..?*
}
# What a previous job left that the next daemon would run or hand to the next job: containers (with a restart
# policy dockerd would start them), volumes, networks, swarm services, plugins.
left_state() {
  for kind in containers volumes; do
    [ -n "$(find "$DIND_K8S_DATA_ROOT/$kind" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n 1)" ] && return 0
  done
  return 1
}
clear_left_state() {
  docker --host="unix://$sock" ps -aq | xargs -r docker --host="unix://$sock" rm -f -v >/dev/null &&
    docker --host="unix://$sock" volume ls -q | xargs -r docker --host="unix://$sock" volume rm -f >/dev/null
}
if [ -n "\${DIND_K8S_CACHE_VOLUME:-}" ]; then
  mkdir -p "$DIND_K8S_DATA_ROOT"
  if [ -n "\${DIND_K8S_CACHE_WIPE:-}" ]; then
    say "cache volume: last used for another repository; emptying it"
    empty_data_root
  fi
  used="$(cache_bytes)"
  for config in "$DIND_K8S_DATA_ROOT"/containers/*/hostconfig.json; do
    [ -e "$config" ] || continue
    sed -i 's/"RestartPolicy":{"Name":"[a-z-]*"/"RestartPolicy":{"Name":"no"/' "$config"
  done
  rm -rf "$DIND_K8S_DATA_ROOT/swarm" "$DIND_K8S_DATA_ROOT/plugins"
  clear=""
  left_state && clear=1
  limit="\${DIND_K8S_CACHE_PRUNE_ABOVE:-0}"
  over=""
  [ "$limit" -gt 0 ] && [ "$used" -gt "$limit" ] && over=1
  if [ -n "\${DIND_K8S_CACHE_CHECK:-}" ] || [ -n "$over" ] || [ -n "$clear" ]; then
    say "cache volume: $used bytes; checking it\${clear:+, removing the containers and volumes a job left}\${over:+ and pruning (above $limit)}"
    maintenance_daemon "\${DIND_K8S_CACHE_SOCKET:-/tmp/dind-k8s-cache.sock}" "$@"
    if maintenance_ready && docker --host="unix://$sock" image ls -q >/dev/null 2>&1 &&
      { [ -z "$clear" ] || clear_left_state; }; then
      if [ -n "$over" ]; then
        docker --host="unix://$sock" system prune --all --force --filter until=24h >&2 || true
        used="$(cache_bytes)"
        if [ "$used" -gt "$limit" ]; then
          say "still $used bytes after pruning what was unused for 24 h: pruning everything unused"
          docker --host="unix://$sock" system prune --all --force --volumes >&2 || true
        fi
        say "cache volume: $(cache_bytes) bytes after pruning"
      fi
      kill -TERM "$maint" 2>/dev/null || true
      wait "$maint" 2>/dev/null || true
    else
      say "dockerd could not start, list its images or remove what a job left on the cache volume: emptying it"
      kill -TERM "$maint" 2>/dev/null || true
      wait "$maint" 2>/dev/null || true
      empty_data_root
    fi
  fi
  # No container is left: the networks a job created go with the store (dockerd makes bridge, host, none again).
  rm -f "$DIND_K8S_DATA_ROOT/network/files/local-kv.db"
fi
say "starting: $*"
if [ -z "\${DIND_K8S_STOP_FILE:-}" ] && [ -z "\${DIND_K8S_CACHE_VOLUME:-}" ]; then
  exec "$entrypoint" "$@"
fi
"$entrypoint" "$@" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null || true' TERM INT
stopped=""
if [ -n "\${DIND_K8S_STOP_FILE:-}" ]; then
  while [ ! -e "$DIND_K8S_STOP_FILE" ] && kill -0 "$daemon" 2>/dev/null; do sleep 1; done
  if [ -e "$DIND_K8S_STOP_FILE" ]; then
    say "the runner has exited; stopping dockerd"
    kill -TERM "$daemon" 2>/dev/null || true
    stopped=1
  fi
fi
# A trapped TERM interrupts wait while dockerd still shuts down: wait until it is really gone.
while :; do
  status=0
  wait "$daemon" || status=$?
  kill -0 "$daemon" 2>/dev/null || break
done
if [ -n "\${DIND_K8S_CACHE_VOLUME:-}" ]; then
  clean=false
  [ "$status" -eq 0 ] && clean=true
  printf '{"dataBytes":%s,"clean":%s}' "$(cache_bytes)" "$clean" \
    >"\${DIND_K8S_TERMINATION_LOG:-/dev/termination-log}" 2>/dev/null || true
fi
[ -n "$stopped" ] && exit 0
exit "$status"
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
