# lib-bench.sh: what the load scripts (bench-ike.sh, bench-vip.sh,
# soak-ike.sh) share, sourced after they set root. Not run on its own.

# two_namespaces NS_G NS_R GEN RESP SRC_NET SRCS creates the generator
# namespace NS_G (GEN/16 and the SRCS source addresses SRC_NET.1 ..
# SRC_NET.SRCS, /16) and the responder namespace NS_R (RESP/16), joined
# by the veth pair veth-g / veth-r. The caller's cleanup deletes them.
two_namespaces() {
	local g=$1 r=$2 gen=$3 resp=$4 net=$5 srcs=$6 i
	ip netns add "$g"
	ip netns add "$r"
	ip link add veth-g netns "$g" type veth peer name veth-r netns "$r"
	ip -n "$g" link set lo up
	ip -n "$r" link set lo up
	ip -n "$g" addr add "$gen/16" dev veth-g
	ip -n "$r" addr add "$resp/16" dev veth-r
	for i in $(seq 1 "$srcs"); do echo "addr add $net.$i/16 dev veth-g"; done | ip -n "$g" -batch -
	ip -n "$g" link set veth-g up
	ip -n "$r" link set veth-r up
}

# field NAME prints the value of the first NAME=value on stdin.
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" | head -1; }
