#!/usr/bin/env bash
# Measures whole "mycdnctl upload" commands on this machine: five "mycdnd
# shard" processes and a "mycdnd registry", (k, n) = (3, 5), 5 MiB chunks.
# For each size in MiB (default: 256 1024 2048) it uploads a file of random
# bytes, then uploads it again (every shard already held), and prints the
# wall time and peak RSS of each run, beside the raw floors of the same run:
# writing the same shard bytes to the same stores with no reading, sealing or
# coding (scripts/rawshards), and writing as many bytes to the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-256 1024 2048}")
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/mycdnd" ./cmd/mycdnd
go build -o "$work/mycdnctl" ./cmd/mycdnctl
go build -o "$work/rawshards" ./scripts/rawshards
base=$((20000 + RANDOM % 20000))
"$work/mycdnd" registry --open --listen "127.0.0.1:$base" --data "$work/registry" 2>"$work/registry.log" &
pids+=($!)
cfg="$work/config.toml"
printf 'required_shards = 3\n[metadata]\nkind = "registry"\nurl = "http://127.0.0.1:%d"\n' "$base" >"$cfg"
for i in 1 2 3 4 5; do
	"$work/mycdnd" shard --listen "127.0.0.1:$((base + i))" --data "$work/shard$i" 2>"$work/shard$i.log" &
	pids+=($!)
	printf '[[backends]]\nkind = "hero_redis"\nhost = "127.0.0.1:%d"\ndb = 0\n' $((base + i)) >>"$cfg"
done
sleep 1
stores=$(seq -s, $((base + 1)) $((base + 5)) | sed 's/\([0-9]*\)/127.0.0.1:\1/g')

for size in ${sizes[*]}; do
	head -c "${size}M" /dev/urandom >"$work/file"
	for run in first again; do
		sync
		/usr/bin/time -f "upload ${size} MiB (${run}): %e s wall, %U s user, %S s sys, %M KiB peak RSS" \
			"$work/mycdnctl" upload --config "$cfg" --json "$work/file" >"$work/out.json"
		cat "$work/out.json"
	done
	/usr/bin/time -f "  (%M KiB peak RSS)" "$work/rawshards" -stores "$stores" -size $((size << 20)) -k 3 -parallel 4
	# The raw floor of the same run: writing the 5/3 x size bytes the stores
	# keep to the same disk, with one fsync at the end.
	stored=$((size * 5 / 3))
	head -c "${stored}M" /dev/zero | /usr/bin/time -f "raw: write ${stored} MiB of zeros + fsync: %e s" dd of="$work/raw" bs=1M conv=fdatasync status=none
	rm -f "$work/file" "$work/raw"
done
