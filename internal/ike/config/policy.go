// Package config holds the IKE configuration of a vrf as the IKEv2 engine
// negotiates with it: plain, typed values (proposals as wire transforms,
// identities, pre-shared keys, traffic selectors, lifetimes, the
// retransmission and DoS-protection options, the route options) and the
// defaults of the YANG models as constants.
//
// It does not read the YANG structs: internal/ike/resolve builds a Config
// from them on the daemon side, so that the engine, which imports only
// this package, links neither the generated code nor ygot. A VPN leaf that
// is not set takes its template's value; a template leaf that is not set
// takes the template default of secgw-ike.yang (the "refine default"
// statements, which ygot does not apply). Those defaults are repeated here
// as constants (defaults.go), and a test keeps them equal to the models.
package config

//go:generate go tool stringer -type=Action,UniquePolicy,DPDMode -linecomment

import (
	"net/netip"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// Config is the resolved IKE configuration of one vrf. It is not modified
// once in use: a commit derives the next one with Apply (index.go).
type Config struct {
	Global Global
	// VPNs are the enabled VPNs, sorted by name.
	VPNs []*VPN
	// PPKs are the ppk list, sorted by name: as responder, a PPK is
	// used only when the peer names one of these identities (RFC 8784
	// §3).
	PPKs []*PPK
	// PKI is the certificate store of certificate authentication
	// (cert.go); nil without certificates.
	PKI *PKI
	// Clear are the security policies of action pass and drop of the
	// enabled VPNs, by VPN then policy name. They need no child SA: the
	// dataplane installs them from the configuration. They are kept out
	// of VPN so that adding or changing one does not make the engine
	// tear the VPN's SAs down.
	Clear []ClearPolicy

	// idx indexes the above (index.go): set by Apply, or built on first
	// use for a Config written as a literal.
	idx atomic.Pointer[index]
}

// Global holds the vrf-wide options of global-options that the engine uses.
type Global struct {
	// InitiatorOnly rejects IKE_SA_INIT requests from peers.
	InitiatorOnly bool
	// Retransmit holds the retransmission constants.
	Retransmit Retransmit
	// Cookies says when the responder demands a cookie (RFC 7296 §2.6):
	// dos-protection cookie-threshold.
	Cookies CookiePolicy
	// DoS holds the other limits of dos-protection.
	DoS DoSLimits
	// Threads is the number of IKE workers (threads); a peer is always
	// served by the same one.
	Threads int
	// SATableSize and SATableSegments shape the IKE SA hash table: the
	// number of buckets and of separately locked segments
	// (sa-table-size, sa-table-segments).
	SATableSize, SATableSegments int
	// AcquireTimeout is acquire-timeout: how long an acquire for a
	// policy suppresses further acquires while the negotiation it
	// started runs.
	AcquireTimeout time.Duration
	// InitiateRate is initiate-rate: the most IKE SAs start-action start,
	// close-action start and dpd-action restart initiate per second; 0
	// does not pace them.
	InitiateRate int
	// MakeBeforeBreak is make-before-break: a reauthentication sets up
	// the new IKE and child SAs before it deletes the old ones.
	MakeBeforeBreak bool
	// Redirect is global-options redirect (RFC 5685): when the responder
	// redirects IKE_SA_INIT requests to another gateway, and how many
	// redirects an initiator follows.
	Redirect Redirect
	// WindowSize is window-size: the IKE window announced with
	// SET_WINDOW_SIZE (RFC 7296 §2.3); 1 (or 0) keeps one exchange at a
	// time.
	WindowSize int
	// ListenTCP is listen-tcp: accept IKE and ESP over TCP (RFC 9329);
	// TCPPort is tcp-port, 0 for the default 4500.
	ListenTCP bool
	TCPPort   uint16
	// MOBIKEPreferBestPath is mobike-prefer-best-path: on a routing
	// change an initiator's MOBIKE IKE SA moves to the path the routing
	// now prefers even while its current one still works (without it,
	// only when its local address goes away).
	MOBIKEPreferBestPath bool
	// RespondBadSPI is respond-bad-spi max-responses: the most
	// INVALID_SPI notifications sent to one peer address per minute
	// for ESP with an unknown SPI (RFC 7296 §1.5); 0 sends none.
	RespondBadSPI int
}

// Redirect is global-options redirect (RFC 5685).
type Redirect struct {
	// To is the gateway IKE_SA_INIT requests are redirected to
	// (redirect-to); the zero value redirects nothing during IKE_SA_INIT.
	To wire.Gateway
	// Always redirects every IKE_SA_INIT request that announced
	// REDIRECT_SUPPORTED (draining a gateway before maintenance).
	Always bool
	// HalfOpenThreshold and ActiveThreshold redirect while this many IKE
	// SAs are half-open, or established (a gateway under load); zero
	// disables each. A request that carries REDIRECTED_FROM was
	// redirected already and is not redirected for load.
	HalfOpenThreshold, ActiveThreshold uint32
	// MaxRedirects is how many redirects an initiator follows for a VPN
	// within LoopPeriod (RFC 5685: MAX_REDIRECTS and
	// REDIRECT_LOOP_DETECT_PERIOD); zero means the RFC's 5 and 300 s.
	MaxRedirects int
	LoopPeriod   time.Duration
}

// Init reports whether an IKE_SA_INIT request is redirected while
// halfOpen IKE SAs are half-open and active established; redirected says
// the request carried REDIRECTED_FROM.
func (r Redirect) Init(halfOpen, active int, redirected bool) bool {
	if r.To.IsZero() {
		return false
	}
	if r.Always {
		return true
	}
	if redirected {
		return false
	}
	return (r.HalfOpenThreshold > 0 && halfOpen >= int(r.HalfOpenThreshold)) ||
		(r.ActiveThreshold > 0 && active >= int(r.ActiveThreshold))
}

// Limits returns MaxRedirects and LoopPeriod, with the RFC 5685
// defaults for zero.
func (r Redirect) Limits() (int, time.Duration) {
	n, p := r.MaxRedirects, r.LoopPeriod
	if n <= 0 {
		n = 5
	}
	if p <= 0 {
		p = 300 * time.Second
	}
	return n, p
}

// Retransmit holds the retransmission constants of global-options (vsr
// "Retransmission constants"); see engine.RetransmitDelay for the formula.
type Retransmit struct {
	Tries     int           // retransmit-tries, 0..100
	Timeout   time.Duration // retransmit-timeout
	Base      float64       // retransmit-base
	JitterPct int           // retransmit-jitter, percent 0..20
	Limit     time.Duration // retransmit-limit, 0 means no cap
}

// CookiePolicy is dos-protection cookie-threshold.
type CookiePolicy struct {
	// Always demands a cookie on every IKE_SA_INIT (cookie-threshold always).
	Always bool
	// Threshold is the number of half-open IKE SAs from which cookies are
	// demanded; 0 disables cookies unless Always is set.
	Threshold uint32
}

// Required reports whether an IKE_SA_INIT request must carry a cookie when
// halfOpen IKE SAs exist.
func (c CookiePolicy) Required(halfOpen int) bool {
	return c.Always || (c.Threshold > 0 && uint32(halfOpen) >= c.Threshold)
}

// DoSLimits are the limits of dos-protection besides cookies (the vsr
// guide, "DoS protection"). Zero disables each limit.
type DoSLimits struct {
	// BlockThreshold is block-threshold: the most half-open IKE SAs one
	// peer IP address may have.
	BlockThreshold uint32
	// InitLimitHalfOpen is init-limit-half-open: new IKE connections are
	// refused while this many IKE SAs are half-open.
	InitLimitHalfOpen uint32
	// InitLimitJobLoad is init-limit-job-load: new IKE connections are
	// refused while this many jobs wait for a worker.
	InitLimitJobLoad uint32
	// IKESALimit is ike-sa-limit: new connection attempts are blocked
	// once this many IKE SAs are established.
	IKESALimit uint32
}

// VPN is the effective policy of one vpn entry: its IKE SA parameters and
// the child SAs of its security policies.
type VPN struct {
	Name string
	// LocalAddr and RemoteAddr are the IKE endpoints; invalid means any.
	// A VPN with a RemoteAddr may initiate; without, it only responds.
	LocalAddr, RemoteAddr netip.Addr
	// LocalID is the identity we send; when its Type is zero the local
	// address of the exchange is used (RFC 7296 §3.5).
	LocalID Identity
	// RemoteID is the identity the peer must present; the zero value
	// accepts any identity that authenticates.
	RemoteID Identity
	// PSK is the decoded pre-shared key (RFC 7296 §2.15). Never log it.
	PSK []byte
	// Certs names the certificates of certificate authentication in
	// Config.PKI; nil when neither side uses certificates (one pointer:
	// a VPN is kept per configured VPN).
	Certs *CertNames
	// PPK is the post-quantum preshared key the VPN names (vpn ppk), or
	// nil: proposed when initiating, and as responder the only one
	// accepted (RFC 8784 §3).
	PPK *PPK
	// VIP is the VPN's vip-pool and vip-request, nil with neither (a
	// pointer: most VPNs have none, and one VPN is kept per configured
	// VPN).
	VIP *VIP
	// IKEProposals are offered in order, each a wire proposal of protocol
	// IKE numbered from 1 (RFC 7296 §3.3).
	IKEProposals []wire.Proposal
	// ESPProposals are the child SA proposals (without SPI) in order.
	ESPProposals []wire.Proposal
	// IKE holds the IKE SA timers.
	IKE IKETimers
	// Child holds the child SA lifetimes and replay window.
	Child ChildLifetimes
	// RedirectTo is redirect-to: as responder, a peer authenticated
	// under this VPN that announced REDIRECT_SUPPORTED is redirected
	// there in the IKE_AUTH response (RFC 5685); nil: not redirected (a
	// pointer: few VPNs have one, and one VPN is kept per configured VPN).
	RedirectTo *wire.Gateway
	// Policies are the security policies, sorted by name.
	Policies []SecurityPolicy
	// StartAction, CloseAction and DPDAction are the ipsec-policy
	// start-action, close-action and dpd-action of the VPN's child SAs.
	StartAction, CloseAction, DPDAction Action
	// The one-byte fields are together: one word, not one each with
	// padding (a VPN is kept per configured VPN, 100k of them).
	// RequirePPK is require-ppk (the VPN's, else its template's): fail
	// the negotiation rather than proceed without a PPK (RFC 8784 §3,
	// mandatory_or_not).
	RequirePPK bool
	// Fragmentation announces IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383).
	Fragmentation bool
	// FollowRedirect is follow-redirect: as initiator, announce
	// REDIRECT_SUPPORTED in IKE_SA_INIT and follow the REDIRECT of the
	// responder (RFC 5685).
	FollowRedirect bool
	// MOBIKE announces MOBIKE_SUPPORTED in IKE_AUTH and, once both sides
	// did, lets the IKE SA and its child SAs move to new addresses by
	// UPDATE_SA_ADDRESSES (RFC 4555; engine/mobike.go).
	MOBIKE bool
	// Unique is unique-sa: what a new IKE SA with the peer identity of
	// existing ones does to them (engine/unique.go).
	Unique UniquePolicy
	// LocalAuth and RemoteAuth are local-auth-method and
	// remote-auth-method (cert.go).
	LocalAuth, RemoteAuth AuthMethod
	// Transport is ike-policy transport: how an IKE SA we initiate
	// reaches the peer (RFC 9329).
	Transport Transport
	// RemoteAAA is a remote-auth-method served by the RADIUS servers
	// (aaa.go): the peer's AUTH is not verified with PSK.
	RemoteAAA AAAMethod
	// Warnings say what of the configuration resolution left out (an
	// ESP-only algorithm in an IKE proposal), for the log.
	Warnings []string
}

// VIP is what a VPN does with virtual IPs (RFC 7296 §2.19, §3.15).
type VIP struct {
	// Pools is vip-pool: as responder, the pools whose addresses answer
	// a configuration request, the first with one free first.
	Pools []string
	// Request is vip-request: as initiator, the virtual IPs asked for in
	// IKE_AUTH (0.0.0.0 and :: for any of the family).
	Request []netip.Addr
}

// VIPPools returns the VPN's vip-pool list.
func (v *VPN) VIPPools() []string {
	if v.VIP == nil {
		return nil
	}
	return v.VIP.Pools
}

// VIPRequest returns the VPN's vip-request list.
func (v *VPN) VIPRequest() []netip.Addr {
	if v.VIP == nil {
		return nil
	}
	return v.VIP.Request
}

// PPK is one entry of the ppk list: a post-quantum preshared key and its
// identity (RFC 8784 §3, §5.1).
type PPK struct {
	Name string
	// ID is the PPK identity, the bytes of id or of id-hex; it goes on
	// the wire as a PPK_ID_FIXED (RFC 8784 §5.1).
	ID []byte
	// Secret is the decoded PPK. Never log it.
	Secret []byte
}

// Policy returns the security policy called name, or nil.
func (v *VPN) Policy(name string) *SecurityPolicy {
	for i := range v.Policies {
		if v.Policies[i].Name == name {
			return &v.Policies[i]
		}
	}
	return nil
}

// Action is what happens to the child SAs of a security policy when the
// policy is loaded (start-action), when the peer closes them
// (close-action) or when DPD declares the peer dead (dpd-action).
type Action uint8

// Actions. dpd-action clear is ActionNone and dpd-action restart is
// ActionStart.
const (
	// ActionNone does nothing (dpd-action clear: the child SAs are
	// closed and nothing more happens).
	ActionNone Action = iota // none
	// ActionTrap installs trap policies: matching traffic makes the
	// dataplane raise an acquire, which negotiates the child SA.
	ActionTrap // trap
	// ActionStart negotiates the child SA at once (dpd-action restart:
	// under a fresh IKE SA).
	ActionStart // start
)

// UniquePolicy is unique-sa: the uniqueness of IKE SAs per peer
// identity (strongSwan's uniqueids).
type UniquePolicy uint8

// Unique policies (secgw-ike-vpn.yang unique-sa).
const (
	// UniqueNo (the default) keeps the existing IKE SAs of a peer
	// identity unless the peer sends INITIAL_CONTACT.
	UniqueNo UniquePolicy = iota // no
	// UniqueNever keeps them even on INITIAL_CONTACT, and never sends
	// INITIAL_CONTACT.
	UniqueNever // never
	// UniqueKeep refuses a new IKE SA when one of the VPN with the
	// same identities exists.
	UniqueKeep // keep
	// UniqueReplace deletes the existing IKE SA of the VPN with the
	// same identities once a new one is established.
	UniqueReplace // replace
)

// Transport is ike-policy transport: UDP, TCP (RFC 9329), or UDP first
// and TCP once IKE_SA_INIT over UDP went unanswered.
type Transport uint8

// Transports (secgw-ike-vpn.yang transport).
const (
	TransportUDP        Transport = iota // udp
	TransportTCP                         // tcp
	TransportUDPThenTCP                  // udp-then-tcp
)

// DPDMode is dpd-mode: when liveness checks are sent.
type DPDMode uint8

// DPD modes (secgw-ike-vpn.yang dpd-mode, after the Juniper modes).
const (
	// DPDProbeIdle (probe-idle-tunnel, the default) probes when nothing
	// was received from the peer during dpd-delay (RFC 7296 §2.4).
	DPDProbeIdle DPDMode = iota // probe-idle-tunnel
	// DPDOptimized probes only when traffic was sent to the peer and
	// none was received during dpd-delay.
	DPDOptimized // optimized
	// DPDAlwaysSend probes every dpd-delay, whatever the traffic.
	DPDAlwaysSend // always-send
)

// Initiator reports whether the VPN can initiate: it needs a peer address.
func (v *VPN) Initiator() bool { return v.RemoteAddr.IsValid() }

// IKETimers are the IKE SA rekey, reauthentication and DPD settings.
type IKETimers struct {
	RekeyTime  time.Duration // 0 disables rekeying
	ReauthTime time.Duration // 0 disables reauthentication
	DPDDelay   time.Duration // 0 disables DPD
	DPDMode    DPDMode
	// DPDThreshold is dpd-threshold: the number of unanswered probes,
	// sent every DPDDelay, after which the peer is dead; 0 (unset) means
	// a probe is retransmitted like any request. A byte, as in the
	// model (uint8), beside DPDMode: one word for both (a VPN is kept
	// per configured VPN).
	DPDThreshold uint8
}

// ChildLifetimes are the child SA lifetimes (ipsec-policy) given to the
// dataplane with each child SA.
type ChildLifetimes struct {
	RekeyTime    time.Duration
	LifeTime     time.Duration
	RekeyBytes   uint64
	LifeBytes    uint64
	RekeyPackets uint64
	LifePackets  uint64
	ReplayWindow uint16
}

// Mode is the encapsulation mode of a security policy.
type Mode uint8

// Encapsulation modes.
const (
	ModeTunnel Mode = iota
	ModeTransport
)

// String returns "tunnel" or "transport" (by hand: every value but
// ModeTransport is a tunnel).
func (m Mode) String() string {
	if m == ModeTransport {
		return "transport"
	}
	return "tunnel"
}

// SecurityPolicy is one security-policy: the traffic of one child SA, from
// this gateway's point of view.
type SecurityPolicy struct {
	Name string
	// Local and Remote are the configured selectors (RFC 7296 §3.13.1);
	// an unset subnet is the whole address space of the VPN's family.
	// Compact (Selector); their TS method gives the wire's form.
	Local, Remote Selector
	Mode          Mode
	// Priority is the configured policy priority; 0 lets the dataplane
	// compute it from the selectors' specificity.
	Priority uint32
	// IfIDIn and IfIDOut are svti-id-in and svti-id-out (0: unset): the
	// XFRM interface ids of the inbound and outbound SAs and policies,
	// so that the traffic goes through an XFRM interface rather than by
	// the policies' selectors.
	IfIDIn, IfIDOut uint32
}

// ClearAction is the action of a security policy that needs no child SA.
type ClearAction uint8

// Clear actions (security-policy action; esp policies are
// SecurityPolicy of VPN.Policies).
const (
	// ClearPass lets the matching traffic pass in clear, bypassing
	// IPsec (action pass).
	ClearPass ClearAction = iota + 1
	// ClearDrop drops the matching traffic (action drop).
	ClearDrop
)

// String returns the YANG enum name, pass or drop (by hand: the zero
// value, unset, prints as the default, pass).
func (a ClearAction) String() string {
	if a == ClearDrop {
		return "drop"
	}
	return "pass"
}

// ClearPolicy is a security policy of action pass or drop: installed in
// the dataplane from the configuration, without IKE, for as long as its
// VPN exists and is enabled. Mode is meaningless for it.
type ClearPolicy struct {
	VPN string
	SecurityPolicy
	Action ClearAction
}
