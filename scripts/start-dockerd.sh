#!/usr/bin/env bash
# Starts a Docker daemon for Pier's end-to-end tests (test/e2e/docker.test.ts), or reuses one that
# already answers on the socket. No container is ever run by the tests: the daemon only builds,
# pushes and pulls images, so it runs without iptables, without a bridge and on the vfs driver
# (works inside an unprivileged-ish container without overlayfs).
#
# Prints the DOCKER_HOST to use on stdout (the last line), e.g. unix:///tmp/pier-dockerd/docker.sock
#
# Environment:
#   PIER_DOCKERD_DIR      base directory (default /tmp/pier-dockerd): data/, exec/, dockerd.log, dockerd.pid
#   PIER_DOCKERD_SOCKET   socket path (default $PIER_DOCKERD_DIR/docker.sock)
#   PIER_DOCKERD_TIMEOUT  seconds to wait for the daemon to answer (default 60)
#   DOCKERD               dockerd binary (default: dockerd on PATH, then /usr/sbin/dockerd)
#   DOCKER                docker CLI binary (default: docker on PATH)
set -euo pipefail

base="${PIER_DOCKERD_DIR:-/tmp/pier-dockerd}"
socket="${PIER_DOCKERD_SOCKET:-$base/docker.sock}"
timeout="${PIER_DOCKERD_TIMEOUT:-60}"
docker_cli="${DOCKER:-docker}"
host="unix://$socket"
log="$base/dockerd.log"
pidfile="$base/dockerd.pid"

answers() {
  # `docker version` needs the daemon to answer; --format keeps it quiet
  DOCKER_HOST="$host" timeout 10 "$docker_cli" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

if ! command -v "$docker_cli" >/dev/null 2>&1; then
  echo "start-dockerd: the docker CLI ($docker_cli) is not on PATH" >&2
  exit 1
fi

if answers; then
  echo "start-dockerd: reusing the daemon on $host" >&2
  echo "$host"
  exit 0
fi

dockerd_bin="${DOCKERD:-}"
if [ -z "$dockerd_bin" ]; then
  dockerd_bin="$(command -v dockerd || true)"
  [ -z "$dockerd_bin" ] && [ -x /usr/sbin/dockerd ] && dockerd_bin=/usr/sbin/dockerd
fi
if [ -z "$dockerd_bin" ]; then
  echo "start-dockerd: dockerd is not installed (apt-get install docker.io)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "start-dockerd: dockerd must run as root (or set DOCKER_HOST / PIER_TEST_DOCKER_HOST to a running daemon)" >&2
  exit 1
fi

mkdir -p "$base/data" "$base/exec" "$(dirname "$socket")"
# Two test runs starting at once: the second waits for the first, then reuses its daemon.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$base/start.lock"
  flock -w "$timeout" 9
  if answers; then
    echo "start-dockerd: reusing the daemon on $host" >&2
    echo "$host"
    exit 0
  fi
fi
# A stale socket or pid file from a daemon that died would make dockerd refuse to start.
if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
if [ -f "$pidfile" ]; then
  echo "start-dockerd: dockerd $(cat "$pidfile") is running but does not answer on $host; see $log" >&2
  exit 1
fi
rm -f "$socket"

echo "start-dockerd: starting $dockerd_bin on $host (log: $log)" >&2
# setsid: the daemon outlives this script and the test run that started it.
setsid "$dockerd_bin" \
  --iptables=false --ip6tables=false --bridge=none \
  --storage-driver=vfs \
  --data-root "$base/data" \
  --exec-root "$base/exec" \
  --pidfile "$pidfile" \
  -H "$host" \
  >>"$log" 2>&1 </dev/null 9>&- &
pid=$!

for _ in $(seq 1 "$((timeout * 4))"); do
  if answers; then
    echo "start-dockerd: dockerd $pid is up" >&2
    echo "$host"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-dockerd: dockerd exited; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  sleep 0.25
done
echo "start-dockerd: dockerd did not answer on $host within ${timeout}s; last lines of $log:" >&2
tail -n 30 "$log" >&2
exit 1
