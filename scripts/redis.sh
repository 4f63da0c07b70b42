#!/usr/bin/env bash
# A throw-away Redis for the tests: Debian's `redis-server` (installed when missing), listening on 127.0.0.1 only,
# on a free port, with a password (requirepass), no persistence, its files in DIR.
#
# Usage: scripts/redis.sh start DIR      prints the URL, redis://:PASSWORD@127.0.0.1:PORT/0
#        scripts/redis.sh stop DIR       stops the server and removes DIR
#        scripts/redis.sh pause DIR      stops the server abruptly (an outage), keeping DIR
#        scripts/redis.sh resume DIR     starts a paused server again, on the same port and password
set -euo pipefail

action=${1:-}
dir=${2:-}
[[ -n "$action" && -n "$dir" ]] || { sed -n '2,9p' "$0" >&2; exit 64; }

if ! command -v redis-server >/dev/null && [[ "$action" == start ]]; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "redis.sh: installing redis-server" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # The package starts a server of its own; the tests use theirs only.
  $sudo service redis-server stop >/dev/null 2>&1 || true
fi

launch() {
  local port=$1 password=$2
  redis-server --bind 127.0.0.1 --port "$port" --requirepass "$password" --save "" --appendonly no \
    --dir "$dir" --logfile "$dir/server.log" --pidfile "$dir/redis.pid" --daemonize yes
  for _ in $(seq 1 100); do
    if redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning -a "$password" ping 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.1
  done
  cat "$dir/server.log" >&2
  return 1
}

case $action in
  start)
    mkdir -p "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    echo "$port" >"$dir/port"
    echo "$password" >"$dir/password"
    launch "$port" "$password"
    echo "redis://:$password@127.0.0.1:$port/0"
    ;;
  pause)
    [[ -f "$dir/redis.pid" ]] && kill -9 "$(cat "$dir/redis.pid")" 2>/dev/null || true
    rm -f "$dir/redis.pid"
    ;;
  resume)
    launch "$(cat "$dir/port")" "$(cat "$dir/password")"
    ;;
  stop)
    [[ -f "$dir/redis.pid" ]] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    sleep 0.2
    rm -rf "$dir"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 64
    ;;
esac
