#!/bin/bash
# check-generated.sh GO GENFLAGS YANG_SRC FILE: regenerates FILE from the
# modules into a temporary directory and fails when it differs from FILE
# (ygot's embedded ySchema blob left out: it is not deterministic), or
# when the generator fails. make check-generated runs it.
set -euo pipefail
go=$1 flags=$2 src=$3 file=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
if ! $go tool generator $flags -output_file="$tmp/gen.go" $src >"$tmp/log" 2>&1; then
	cat "$tmp/log"
	echo "check-generated: ygot's generator failed on yang/"
	exit 1
fi
gofmt -w "$tmp/gen.go"
strip() { awk '/^\tySchema = \[\]byte\{$/ {skip=1; next} skip && /^\t\}$/ {skip=0; next} !skip' "$1"; }
if ! diff -u <(strip "$file") <(strip "$tmp/gen.go") >"$tmp/diff"; then
	echo "generated/ is stale: run 'make generate' and commit the result"
	head -40 "$tmp/diff"
	exit 1
fi
echo "generated/ is up to date"
