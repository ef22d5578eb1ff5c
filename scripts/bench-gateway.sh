#!/usr/bin/env bash
# Measures "mycdnd gateway" as a process on this machine, against five
# "mycdnd shard" processes and a "mycdnd registry", (k, n) = (3, 5), 5 MiB
# chunks, and nginx (Debian) serving the same files from disk:
#   - one stream of a file of $1 MiB (default 256) with curl: gateway cold
#     (just started) and warm, nginx; with the time to the first byte;
#   - wrk, 16 connections for 10 s: a 10 KiB file through the warm gateway
#     and from nginx, and the large file through the warm gateway;
#   - the gateway's peak RSS;
#   - one cold stream with two of the five stores down.
# Needs nginx-light (or nginx) and wrk: apt-get install nginx-light wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
work=$(mktemp -d)
pids=()
gwpid=""
cleanup() {
	for p in "${pids[@]}" $gwpid; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
for cmd in nginx wrk curl; do
	command -v "$cmd" >/dev/null || { echo "$cmd not found: apt-get install nginx-light wrk curl" >&2; exit 1; }
done

go build -o "$work/mycdnd" ./cmd/mycdnd
go build -o "$work/mycdnctl" ./cmd/mycdnctl
base=$((20000 + RANDOM % 20000))
gwport=$((base + 10))
ngport=$((base + 11))
"$work/mycdnd" registry --open --listen "127.0.0.1:$base" --data "$work/registry" 2>"$work/registry.log" &
pids+=($!)
cfg="$work/config.toml"
printf 'required_shards = 3\n[metadata]\nkind = "registry"\nurl = "http://127.0.0.1:%d"\n' "$base" >"$cfg"
shard=()
for i in 1 2 3 4 5; do
	"$work/mycdnd" shard --listen "127.0.0.1:$((base + i))" --data "$work/shard$i" 2>"$work/shard$i.log" &
	pids+=($!)
	shard+=($!)
	printf '[[backends]]\nkind = "hero_redis"\nhost = "127.0.0.1:%d"\ndb = 0\n' $((base + i)) >>"$cfg"
done
sleep 1

mkdir -p "$work/www"
head -c "${size}M" /dev/urandom >"$work/www/big.bin"
head -c 10240 /dev/urandom >"$work/www/small.bin"
path() { # the path form of the upload of $1
	"$work/mycdnctl" upload --config "$cfg" --json "$1" |
		sed -n 's|.*"ref":"holo://\([0-9a-f]*\)?key=\([0-9a-f]*\)".*|/\1/\2/|p'
}
big=$(path "$work/www/big.bin")
small=$(path "$work/www/small.bin")

start_gateway() {
	"$work/mycdnd" gateway --listen "127.0.0.1:$gwport" --registry "http://127.0.0.1:$base" \
		--cache-size 512MiB --log-level warn 2>>"$work/gateway.log" &
	gwpid=$!
	until curl -sf -o /dev/null "http://127.0.0.1:$gwport/"; do sleep 0.1; done
}
stop_gateway() {
	echo "gateway peak RSS: $(grep VmHWM /proc/$gwpid/status | awk '{print int($2/1024)}') MiB"
	kill "$gwpid"
	wait "$gwpid" || true
	gwpid=""
}
stream() { # label url
	curl -s -o /dev/null -w "%{speed_download} %{time_starttransfer} %{time_total}\n" "$2" |
		awk -v l="$1" '{ printf "%s: %.0f MB/s, first byte %.1f ms, total %.3f s\n", l, $1 / 1e6, $2 * 1000, $3 }'
}
wrk16() { # label url
	echo "$1:"
	wrk -t2 -c16 -d10s --latency "$2" | grep -E '^ +(50|99)%|Requests/sec|Transfer/sec|Non-2xx|Socket errors'
}

cat >"$work/nginx.conf" <<EOF
user root;
worker_processes 2;
daemon on;
pid $work/nginx.pid;
error_log $work/nginx.err;
events {}
http {
	access_log off;
	sendfile on;
	server { listen 127.0.0.1:$ngport; root $work/www; }
}
EOF
nginx -c "$work/nginx.conf" -p "$work"

echo "== one stream of $size MiB"
start_gateway
stream "gateway cold" "http://127.0.0.1:$gwport$big"
stream "gateway warm" "http://127.0.0.1:$gwport$big"
stream "gateway warm" "http://127.0.0.1:$gwport$big"
stream "nginx" "http://127.0.0.1:$ngport/big.bin"
stream "nginx" "http://127.0.0.1:$ngport/big.bin"
echo "== wrk, 16 connections, 10 s"
wrk16 "gateway, 10 KiB, warm" "http://127.0.0.1:$gwport$small"
wrk16 "nginx, 10 KiB" "http://127.0.0.1:$ngport/small.bin"
wrk16 "gateway, $size MiB, warm" "http://127.0.0.1:$gwport$big"
wrk16 "nginx, $size MiB" "http://127.0.0.1:$ngport/big.bin"
stop_gateway
echo "== two of five stores down"
kill "${shard[0]}" "${shard[2]}"
start_gateway
stream "gateway cold, two down" "http://127.0.0.1:$gwport$big"
stop_gateway
