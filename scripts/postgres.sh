#!/usr/bin/env bash
# A throw-away PostgreSQL 15 for the tests: Debian's `postgresql` package (installed when missing), a cluster made
# with initdb in DIR, listening on 127.0.0.1 only, on a free port, owned by a user that is not root (PostgreSQL
# refuses to run as root: as root, the script creates the system user `rag-postgres` once and runs the server as it).
#
# Usage: scripts/postgres.sh start DIR     prints the URL, postgres://rag@127.0.0.1:PORT/rag (trust auth, loopback);
#                                          as root, DIR must be reachable by rag-postgres (under /tmp, say)
#        scripts/postgres.sh stop DIR      stops the server and removes DIR
#        scripts/postgres.sh pause DIR     stops the server abruptly (an outage: -m immediate), keeping its data
#        scripts/postgres.sh resume DIR    starts a paused server again, on the same port
set -euo pipefail

action=${1:-}
dir=${2:-}
[[ -n "$action" && -n "$dir" ]] || { sed -n '2,11p' "$0" >&2; exit 64; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$bin" && "$action" == start ]]; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  echo "postgres.sh: installing postgresql" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  # The package starts a cluster of its own; the tests use theirs only.
  $sudo service postgresql stop >/dev/null 2>&1 || true
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u rag-postgres -- "$@"
  else
    "$@"
  fi
}

case $action in
  start)
    if [[ $(id -u) -eq 0 ]] && ! id rag-postgres >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /usr/sbin/nologin rag-postgres
    fi
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown rag-postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U rag --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U rag rag
    echo "$port" >"$dir/port"
    echo "postgres://rag@127.0.0.1:$port/rag"
    ;;
  pause)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
    ;;
  resume)
    port=$(cat "$dir/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  stop)
    if [[ -d "$dir/data" && -n "$bin" ]]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    sed -n '2,11p' "$0" >&2
    exit 64
    ;;
esac
