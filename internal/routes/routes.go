// Package routes installs the routes of established child SAs (the vsr
// guide's "Reverse route injection"): a Manager is told of each child SA
// the IKE engine installs and deletes, and of the route configuration of
// global-options and the security policies; it keeps the host's routes
// and policy routing rules in step, refcounted (two child SAs needing the
// same route share it, a rekey replaces a child without a gap) and
// idempotent.
//
// What is routed (see Manager for the details and the reasons):
//
//   - with the userspace dataplane, the remote selectors of every non-SVTI
//     child SA into the TUN device, in routing-table, looked up by a rule
//     of priority routing-table-prio (as strongSwan's kernel-libipsec);
//   - with the kernel dataplane and install-routes, the remote selectors
//     of every non-SVTI tunnel-mode child SA in routing-table, via the next
//     hop of the route to the peer (as charon's install_routes);
//   - with inject-routes on a security policy, its child SAs' remote
//     selectors into the given table via the given next hop.
//
// The host's routing is behind the OS interface: NewNetlink in production,
// routestest.Fake in tests. The Manager recognises its routes and rules by
// their protocol field (Protocol), removes those a previous run left at
// Start, and never touches any other. The routes it injects into another
// vrf (through Options.OSOf, of protocol ProtocolOtherVRF in the daemon)
// it tracks itself: it removes them with their child SAs and at Close.
package routes

import (
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"strings"

	"secgw/internal/ike/config"
)

// Child is what routing needs of an established child SA (the daemon
// fills it from the IKE engine's engine.ChildSA).
type Child struct {
	VPN, Policy string
	// Local and Remote are the outer (IKE peer) addresses.
	Local, Remote netip.Addr
	// InSPI is the SPI of the inbound SA: with Local, it names the child.
	// Zero makes it a trap: the routes of a security policy that has no
	// child SA yet, named by VPN and Policy.
	InSPI uint32
	Mode  config.Mode
	// LocalTS and RemoteTS are the negotiated selectors.
	LocalTS, RemoteTS []ipsec.TrafficSelector
	// Clear makes it a security policy of action pass or drop (with
	// InSPI 0): routed only with the userspace dataplane, see
	// Manager.clearRoutes.
	Clear config.ClearAction
}

// Protocol is the routing protocol number of every route and rule the
// Manager installs ("proto 211" in ip route and ip rule): how a restart
// finds the ones a previous run left. 211 is not assigned in iproute2's
// rt_protos.
const Protocol = 211

// ProtocolOtherVRF is the protocol of the routes a Manager injects into
// another vrf's namespace (inject-routes vrf): that vrf's own Manager
// lists, and so cleans up, only Protocol's, and the injecting Manager
// removes only the routes it installed itself. 212 is not assigned in
// iproute2's rt_protos either.
const ProtocolOtherVRF = 212

// Route is one route: a destination prefix in a table, via a gateway or
// directly on a device, with an optional preferred source address.
type Route struct {
	// VRF is the vrf (network namespace) the route lives in: "" is the
	// Manager's own (its OS); another names the vrf whose OS
	// Options.OSOf opens (inject-routes vrf).
	VRF   string
	Table uint32
	Dst   netip.Prefix
	// Gateway is the next hop; invalid means Dst is on Dev.
	Gateway netip.Addr
	// Dev is the output device; "" lets the kernel find it from Gateway.
	Dev string
	// Src is the preferred source address of the host's own packets;
	// invalid means none.
	Src netip.Addr
	// Throw makes it a throw route (no Gateway, Dev nor Src): the lookup
	// of Table ends without a route and goes on with the next rule.
	Throw bool
}

// key is what identifies a route in the kernel (with metric 0 and tos 0,
// which is all the Manager installs).
type key struct {
	vrf   string
	table uint32
	dst   netip.Prefix
}

func (r Route) key() key { return key{r.VRF, r.Table, r.Dst} }

// String renders r as ip route does.
func (r Route) String() string {
	var b strings.Builder
	if r.Throw {
		b.WriteString("throw ")
	}
	b.WriteString(r.Dst.String())
	if r.Gateway.IsValid() {
		b.WriteString(" via " + r.Gateway.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	fmt.Fprintf(&b, " table %d", r.Table)
	if r.VRF != "" {
		b.WriteString(" vrf " + r.VRF)
	}
	return b.String()
}

// Rule is the policy routing rule "from all lookup Table" of one address
// family at Priority.
type Rule struct {
	// V6 is the family: IPv6 when set, IPv4 otherwise.
	V6       bool
	Table    uint32
	Priority uint32
}

// String renders r as ip rule does, with the family first.
func (r Rule) String() string {
	fam := "inet"
	if r.V6 {
		fam = "inet6"
	}
	return fmt.Sprintf("%s %d: from all lookup %d", fam, r.Priority, r.Table)
}

// NextHop is how the host reaches an address: through Gateway (invalid
// when the address is on the link) out of Dev.
type NextHop struct {
	Gateway netip.Addr
	Dev     string
}

// OS is the host's routing as the Manager sees it. Routes and Rules list
// only entries of protocol Protocol; AddRoute and AddRule add with that
// protocol. Implementations are safe for concurrent use.
type OS interface {
	// Routes lists the routes of protocol Protocol in every table.
	Routes() ([]Route, error)
	// AddRoute adds r; it fails (and changes nothing) when a route with
	// r's table and destination exists, whoever owns it.
	AddRoute(r Route) error
	// ReplaceRoute replaces the route of r's table and destination (one
	// of ours) with r.
	ReplaceRoute(r Route) error
	// DelRoute deletes the route of r's table and destination; a route
	// already gone is not an error.
	DelRoute(r Route) error
	// Rules lists the rules of protocol Protocol.
	Rules() ([]Rule, error)
	// AddRule adds r; an identical rule already there is not an error.
	AddRule(r Rule) error
	// DelRule deletes r; a rule already gone is not an error.
	DelRule(r Rule) error
	// RouteTo is the next hop towards dst for packets from src (ip route
	// get dst from src).
	RouteTo(dst, src netip.Addr) (NextHop, error)
	// Addrs lists the host's addresses.
	Addrs() ([]netip.Addr, error)
}

// L3VRFTables is what an OS implements when it can name the routing
// table of a Linux VRF device (an l3vrf of inject-routes): the table
// the device's routes go to ("ip -d link show NAME": vrf table N).
type L3VRFTables interface {
	L3VRFTable(name string) (uint32, error)
}
