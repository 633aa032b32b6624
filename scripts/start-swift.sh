#!/usr/bin/env bash
# Starts OpenStack Swift with its S3 API (s3api) on 127.0.0.1:8080 for Pier's S3 tests
# (src/storage/s3/store.test.ts, test/http/blob-redirect.test.ts, the multi-replica tests), or
# reuses the one that already answers there. A real object store from Debian's packages: one
# proxy, one account, one container and one object server, one replica, data in a plain
# directory (no XFS, no mount checks), tempauth with a single test account.
#
#   S3 endpoint  http://127.0.0.1:8080 (path-style), region us-east-1
#   credentials  access key "test:tester", secret key "testing"
#   Pier         PIER_STORAGE_URL='s3://bucket/prefix?endpoint=http://127.0.0.1:8080&region=us-east-1&forcePathStyle=true'
#
# Prints the endpoint on stdout (the last line). Installs the packages when missing (as root).
#
# Environment:
#   PIER_SWIFT_DIR           base directory (default /tmp/pier-swift): etc/ (configs, rings),
#                            node/ (data), run/ (pid files), log/
#   PIER_SWIFT_PORT          S3/Swift proxy port (default 8080)
#   PIER_SWIFT_BACKEND_PORT  first of three backend ports: object, container, account (default 6200)
#   PIER_SWIFT_MEMCACHED_PORT memcached for tempauth's tokens (default 11211; started if nothing listens)
#   PIER_SWIFT_TIMEOUT       seconds to wait for Swift to answer (default 60)
#
# /etc/swift/swift.conf (the hash path secret every Swift process reads from there) is written
# only when it does not exist; rings and server configs live under PIER_SWIFT_DIR, so a second
# instance on other ports can run beside the first.
set -euo pipefail

base="${PIER_SWIFT_DIR:-/tmp/pier-swift}"
port="${PIER_SWIFT_PORT:-8080}"
backend="${PIER_SWIFT_BACKEND_PORT:-6200}"
memcached_port="${PIER_SWIFT_MEMCACHED_PORT:-11211}"
timeout="${PIER_SWIFT_TIMEOUT:-60}"
endpoint="http://127.0.0.1:$port"
etc="$base/etc"

answers() { # GET /healthcheck answers 200 (curl when there is one, else bash's /dev/tcp)
  if command -v curl >/dev/null 2>&1; then
    curl -sf -m 5 "$endpoint/healthcheck" >/dev/null 2>&1
    return
  fi
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /healthcheck HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" >&3
    timeout 5 head -n 1 <&3 | grep -q ' 200 '
  ) 2>/dev/null
}

listening() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

if answers; then
  echo "start-swift: reusing Swift on $endpoint" >&2
  echo "$endpoint"
  exit 0
fi

if ! command -v swift-proxy-server >/dev/null 2>&1 || ! command -v swift-object-server >/dev/null 2>&1 ||
  ! command -v swift-container-server >/dev/null 2>&1 || ! command -v swift-account-server >/dev/null 2>&1 ||
  ! command -v memcached >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "start-swift: Swift is not installed; as root: apt-get install swift-proxy swift-account swift-container swift-object memcached" >&2
    exit 1
  fi
  echo "start-swift: installing Swift and memcached" >&2
  packages=(swift-proxy swift-account swift-container swift-object memcached)
  # a fresh machine has no package lists yet: update once and retry
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}" >&2; }
fi

mkdir -p "$etc" "$base/node/d1" "$base/run" "$base/log"
# Two test runs starting at once: the second waits for the first, then reuses its Swift.
exec 9>"$base/start.lock"
flock -w "$timeout" 9
if answers; then
  echo "start-swift: reusing Swift on $endpoint" >&2
  echo "$endpoint"
  exit 0
fi

# Every Swift process validates the hash path secret in /etc/swift/swift.conf, whatever its
# swift_dir. Objects are placed by it: never change it under existing data.
if [ ! -f /etc/swift/swift.conf ]; then
  mkdir -p /etc/swift
  printf '[swift-hash]\nswift_hash_path_suffix = pier-test\nswift_hash_path_prefix = pier-test\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' >/etc/swift/swift.conf
elif ! grep -Eq '^[[:space:]]*swift_hash_path_(suffix|prefix)[[:space:]]*=[[:space:]]*[^[:space:]]' /etc/swift/swift.conf; then
  echo "start-swift: /etc/swift/swift.conf sets neither swift_hash_path_suffix nor swift_hash_path_prefix; set one" >&2
  exit 1
fi

user="$(id -un)"
object_port="$backend"
container_port="$((backend + 1))"
account_port="$((backend + 2))"

# One ring per server kind: 2^8 partitions, 1 replica, one device. Rebuilt when the ports changed.
for entry in "object:$object_port" "container:$container_port" "account:$account_port"; do
  kind="${entry%%:*}"
  kind_port="${entry##*:}"
  if [ ! -f "$etc/$kind.ring.gz" ] || ! swift-ring-builder "$etc/$kind.builder" 2>/dev/null | grep -q "127.0.0.1:$kind_port "; then
    rm -f "$etc/$kind.builder" "$etc/$kind.ring.gz"
    swift-ring-builder "$etc/$kind.builder" create 8 1 1 >/dev/null
    swift-ring-builder "$etc/$kind.builder" add "r1z1-127.0.0.1:$kind_port/d1" 1 >/dev/null
    swift-ring-builder "$etc/$kind.builder" rebalance >/dev/null
  fi
  # workers = 0: one process, no forking; mount_check = false: d1 is a plain directory
  cat >"$etc/$kind-server.conf" <<EOF
[DEFAULT]
devices = $base/node
mount_check = false
bind_ip = 127.0.0.1
bind_port = $kind_port
workers = 0
user = $user
swift_dir = $etc
log_level = WARNING
recon_cache_path = $base/run

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
EOF
done

# The proxy: s3api turns S3 requests (SigV4, presigned URLs too) into Swift ones; tempauth
# holds the account test:tester / testing and checks S3 signatures; slo and dlo assemble the
# multipart uploads; copy serves CopyObject and UploadPartCopy. The order is the one the s3api
# documentation gives.
cat >"$etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $user
swift_dir = $etc
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# bigger reads and writes than the 64 KiB default: blobs are large
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$memcached_port

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF

# tempauth keeps its tokens in memcached
if ! listening "$memcached_port"; then
  memcached -u "$user" -l 127.0.0.1 -p "$memcached_port" -m 64 -d -P "$base/run/memcached.pid"
fi

# A stale pid file from a server that died is removed; a live one is left running.
for kind in account container object proxy; do
  pidfile="$base/run/$kind.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
  # setsid: the servers outlive this script and the test run that started it
  setsid swift-$kind-server "$etc/$kind-server.conf" >>"$base/log/$kind.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
done

for _ in $(seq 1 "$((timeout * 4))"); do
  if answers && listening "$object_port" && listening "$container_port" && listening "$account_port"; then
    echo "start-swift: Swift is up on $endpoint (data in $base/node)" >&2
    echo "$endpoint"
    exit 0
  fi
  for kind in account container object proxy; do
    if ! kill -0 "$(cat "$base/run/$kind.pid")" 2>/dev/null; then
      echo "start-swift: swift-$kind-server exited; last lines of $base/log/$kind.log:" >&2
      tail -n 30 "$base/log/$kind.log" >&2
      exit 1
    fi
  done
  sleep 0.25
done
echo "start-swift: Swift did not answer on $endpoint within ${timeout}s; see $base/log/" >&2
tail -n 10 "$base"/log/*.log >&2
exit 1
