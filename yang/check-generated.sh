#!/bin/bash
# check-generated.sh GO GENFLAGS YANG_SRC FILE [ROOT]: fails when what is
# generated is stale. It regenerates FILE from the modules into a
# temporary directory and fails when it differs from FILE (ygot's
# embedded ySchema blob left out: it is not deterministic), or when the
# generator fails. Then it runs each stringer line of go generate
# (//go:generate go tool stringer ...) under ROOT (default .) again into
# the temporary directory and fails when the output differs from the
# committed <type>_string.go. make check-generated runs it.
set -euo pipefail
go=$1 flags=$2 src=$3 file=$4 root=${5:-.}
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

# stringer writes "stringer ARGS" into its header: with -output added
# last, the header is put back to what go generate writes.
stringer=$($go tool -n stringer)
n=0 stale=0
while IFS= read -r hit; do
	gofile=${hit%%:*} args=${hit#*go tool stringer }
	typ=$(sed -n 's/.*-type[= ]\([A-Za-z0-9_]*\).*/\1/p' <<<"$args")
	want=$(dirname "$gofile")/${typ,,}_string.go want=${want#./}
	# shellcheck disable=SC2086
	if ! (cd "$(dirname "$gofile")" && "$stringer" $args -output "$tmp/string.go") >"$tmp/log" 2>&1; then
		cat "$tmp/log"
		echo "check-generated: stringer failed for $gofile"
		exit 1
	fi
	sed -i "1s| -output $tmp/string.go\"|\"|" "$tmp/string.go"
	n=$((n + 1))
	if ! diff -u "$want" "$tmp/string.go" >"$tmp/diff" 2>&1; then
		echo "$want is stale: run 'make generate' and commit the result"
		head -40 "$tmp/diff"
		stale=1
	fi
done < <(grep -r --include='*.go' '^//go:generate go tool stringer ' "$root" | sort)
if [ "$stale" != 0 ]; then
	exit 1
fi
echo "$n stringer files are up to date"
