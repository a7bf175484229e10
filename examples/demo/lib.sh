# Shared by demo.sh and demo-strongswan.sh (sourced, not run): cleanup of
# what a demo started, the two-namespace topology and secgwd in a
# namespace. The caller sets BIN, WORK, A and B first.
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# topology IF_A IF_B: namespaces A (192.0.2.1, 10.1.0.1 on lo) and B
# (192.0.2.2, 10.2.0.1 on lo) joined by the veth IF_A -- IF_B.
topology() {
	ip netns del "$A" 2>/dev/null || true
	ip netns del "$B" 2>/dev/null || true
	ip netns add "$A"
	ip netns add "$B"
	ip link add "$1" netns "$A" type veth peer name "$2" netns "$B"
	ip -n "$A" addr add 192.0.2.1/24 dev "$1"
	ip -n "$B" addr add 192.0.2.2/24 dev "$2"
	for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
	ip -n "$A" link set "$1" up
	ip -n "$B" link set "$2" up
	# The protected networks: one host address of each, on loopback.
	ip -n "$A" addr add 10.1.0.1/32 dev lo
	ip -n "$B" addr add 10.2.0.1/32 dev lo
}

# start NS NAME: secgwd in NS (userspace dataplane, NETCONF on
# 127.0.0.1:830 inside it), data and log under $WORK/NAME; its admin
# password (printed once on first start) goes to $WORK/NAME/password.
start() {
	mkdir -p "$WORK/$2"
	ip netns exec "$1" "$BIN/secgwd" -dir "$WORK/$2/data" -listen 127.0.0.1:830 -dataplane userspace \
		-no-syslog -log-level 0 2>"$WORK/$2/log" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q "secgwd running" "$WORK/$2/log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "secgwd running" "$WORK/$2/log" || { echo "secgwd $2 did not start:"; cat "$WORK/$2/log"; exit 1; }
	sed -n 's/.*created user admin with password \([^ ]*\) .*/\1/p' "$WORK/$2/log" >"$WORK/$2/password"
}

# cli NS NAME ARGS...: the secgw CLI against the secgwd NAME in NS.
cli() {
	local ns=$1 name=$2
	shift 2
	SECGW_PASSWORD=$(cat "$WORK/$name/password") ip netns exec "$ns" "$BIN/secgw" -host 127.0.0.1 -port 830 "$@"
}
