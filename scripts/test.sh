#!/usr/bin/env bash
# The test command of the README: installs the Debian packages the tests need
# when they are missing, then runs every test with the race detector.
# Arguments are passed to "go test" (default: ./...).
set -euo pipefail
cd "$(dirname "$0")/.."

# command (or path pattern, for binaries off PATH) -> Debian package that provides it
declare -A need=(
	[redis-server]=redis-server
	[redis-cli]=redis-tools
	[redis-benchmark]=redis-tools
	["/usr/lib/postgresql/*/bin/initdb"]=postgresql
	[chromium]=chromium
)
missing=()
for cmd in "${!need[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || compgen -G "$cmd" >/dev/null || missing+=("${need[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing test dependencies: ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ $# -gt 0 ] || set -- ./...
go test -race -timeout 30m "$@"
