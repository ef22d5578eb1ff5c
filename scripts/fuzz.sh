#!/usr/bin/env bash
# Runs every Fuzz target in the module for the given time each (default 15s).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-15s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
