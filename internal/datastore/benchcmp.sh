#!/bin/sh
# benchcmp.sh [REF]: the datastore's scale figures, before (REF, default
# main) and after (the work tree), in one run. The benchmarks of this
# work tree's bench_test.go are built against both trees and run in
# turns, each one on both before the next, and printed side by side with
# the ratio after/before (below 1: faster or smaller). Short runs: the
# machine is shared.
set -eu
ref=${1:-main}
here=$(cd "$(dirname "$0")" && pwd)
top=$(git -C "$here" rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git -C "$top" archive "$ref" | tar -x -C "$tmp/base"
cp "$here/bench_test.go" "$tmp/base/internal/datastore/"
(cd "$tmp/base" && go test -c -o "$tmp/before.test" ./internal/datastore)
(cd "$top" && go test -c -o "$tmp/after.test" ./internal/datastore)

# field BIN BENCH TIMES UNIT: the value of UNIT that BENCH reports.
field() {
	(cd "$here" && "$1" -test.run '^$' -test.bench "^Benchmark$2\$" -test.benchtime "$3") |
		awk -v u="$4" '/^Benchmark/ { for (i = 3; i < NF; i++) if ($(i+1) == u) print $i }'
}

printf '%-28s %-11s %14s %14s %8s\n' benchmark unit before after ratio
while read -r bench times unit; do
	b=$(field "$tmp/before.test" "$bench" "$times" "$unit")
	a=$(field "$tmp/after.test" "$bench" "$times" "$unit")
	awk -v n="$bench" -v u="$unit" -v b="$b" -v a="$a" \
		'BEGIN { printf "%-28s %-11s %14.0f %14.0f %8.3f\n", n, u, b, a, a / b }'
done <<'LIST'
CommitSnapshot1k 100x ns/op
CommitSnapshot10k 100x ns/op
CommitSnapshot100k 10x ns/op
CommitOneVPN1k 100x ns/op
CommitOneVPN100k 100x ns/op
Open100k 1x ns/op
MemoryPerVPN100k 1x heap-B/VPN
MemoryPerVPN100k 1x rss-MB
LIST
