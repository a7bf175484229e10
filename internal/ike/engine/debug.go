package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// Per-peer debug tracing (Cisco's "debug crypto ikev2" with a peer
// condition, Check Point's debug of the one iked instance of a peer):
// while a filter matches an IKE SA, every message it sends and receives
// is logged at level 0 (slog.LevelInfo), without raising the global
// level, as one record "ike debug" whose trace attribute reads like
// Cisco's:
//
//	Received Packet [From 10.0.0.1:500/To 10.0.0.2:500] Initiator SPI : 1A2B.. - Responder SPI : 3C4D.. Message id: 1 IKE_AUTH Exchange REQUEST Payload contents: IDi AUTH SA TSi TSr NOTIFY(INITIAL_CONTACT)
//
// and the refusals of the peer (NO_PROPOSAL_CHOSEN with the proposals
// received and configured, TS_UNACCEPTABLE with the selectors,
// AUTHENTICATION_FAILED with the identity and auth method) are traced
// too. The message's octets as on the wire (encrypted under SK) follow
// in hex at level 4 only. Nothing in a trace is key material; a filter
// with WithKeys lets the key records of the SAs it matches out at level
// 4 (saLogger.Keys) as secgwd -log-keys does for all.
//
// Bounded: at most maxDebugFilters filters, and debugRecordsPerSecond
// records a second in all (a filter that matches 100k peers writes no
// more); the others are counted and summed up in the next record.

// maxDebugFilters bounds the filters set at once.
const maxDebugFilters = 32

// debugRecordsPerSecond bounds the trace records of all filters.
const debugRecordsPerSecond = 100

// DebugFilter selects the IKE SAs to trace: by peer address, VPN name or
// peer identity (as the state shows it: an address, an FQDN, a DN); the
// set fields must all match. WithKeys lets the key records of the SAs
// it matches out at level 4.
type DebugFilter struct {
	Peer     netip.Addr
	VPN      string
	Identity string
	WithKeys bool
}

// String renders the filter as the CLI's show debug does.
func (f DebugFilter) String() string {
	var parts []string
	if f.Peer.IsValid() {
		parts = append(parts, "peer "+f.Peer.String())
	}
	if f.VPN != "" {
		parts = append(parts, "vpn "+f.VPN)
	}
	if f.Identity != "" {
		parts = append(parts, "identity "+f.Identity)
	}
	if f.WithKeys {
		parts = append(parts, "with-keys")
	}
	return strings.Join(parts, " ")
}

// same reports whether f and g select the same SAs.
func (f DebugFilter) same(g DebugFilter) bool {
	return f.Peer == g.Peer && f.VPN == g.VPN && f.Identity == g.Identity
}

// matches reports whether the filter selects an SA with peer address,
// VPN and identity; a field the SA does not know yet ("" before IKE_AUTH)
// does not match a filter that sets it.
func (f DebugFilter) matches(peer netip.Addr, vpn, identity string) bool {
	return (!f.Peer.IsValid() || f.Peer == peer.Unmap()) && (f.VPN == "" || f.VPN == vpn) &&
		(f.Identity == "" || f.Identity == identity)
}

// DebugRecord is one trace record, for the live stream of the operators
// who asked for it (Options.OnDebug: the debug-ike NETCONF notification).
type DebugRecord struct {
	Time  time.Time
	Peer  netip.AddrPort
	VPN   string
	IKESA uint32 // unique-id, 0 before the IKE SA exists
	Text  string
}

// debugState holds the filters and the rate bound of the traces.
type debugState struct {
	// filters is read on every message: a nil pointer (no filter)
	// costs one atomic load.
	filters atomic.Pointer[[]DebugFilter]
	mu      sync.Mutex // guards the edits of filters and the fields below
	sec     int64
	n       int
	dropped uint64 // since the last record that said so
	total   atomic.Uint64
}

// ErrDebugFilter is returned for a filter that selects nothing or one
// too many.
var ErrDebugFilter = errors.New("engine: debug filter needs a peer, vpn or identity, and at most 32 are set")

// AddDebugFilter starts tracing the SAs f selects; a filter selecting the
// same SAs is replaced (its WithKeys changes).
func (e *Engine) AddDebugFilter(f DebugFilter) error {
	if !f.Peer.IsValid() && f.VPN == "" && f.Identity == "" {
		return ErrDebugFilter
	}
	f.Peer = f.Peer.Unmap()
	d := &e.dbg
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []DebugFilter
	if p := d.filters.Load(); p != nil {
		out = append(out, *p...)
	}
	for i, g := range out {
		if g.same(f) {
			out[i] = f
			d.filters.Store(&out)
			return nil
		}
	}
	if len(out) >= maxDebugFilters {
		return ErrDebugFilter
	}
	out = append(out, f)
	d.filters.Store(&out)
	return nil
}

// RemoveDebugFilter stops the filter selecting the SAs f selects; it
// reports whether there was one.
func (e *Engine) RemoveDebugFilter(f DebugFilter) bool {
	f.Peer = f.Peer.Unmap()
	d := &e.dbg
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.filters.Load()
	if p == nil {
		return false
	}
	var out []DebugFilter
	found := false
	for _, g := range *p {
		if g.same(f) {
			found = true
			continue
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		d.filters.Store(nil)
	} else {
		d.filters.Store(&out)
	}
	return found
}

// DebugFilters returns the filters set.
func (e *Engine) DebugFilters() []DebugFilter {
	if p := e.dbg.filters.Load(); p != nil {
		return append([]DebugFilter(nil), *p...)
	}
	return nil
}

// DebugDropped counts the trace records dropped by the rate bound.
func (e *Engine) DebugDropped() uint64 { return e.dbg.total.Load() }

// debugMatch reports whether a filter selects the SA of peer, vpn and
// identity, and whether one that does has WithKeys.
func (e *Engine) debugMatch(peer netip.Addr, vpn, identity string) (match, withKeys bool) {
	p := e.dbg.filters.Load()
	if p == nil {
		return false, false
	}
	for _, f := range *p {
		if f.matches(peer, vpn, identity) {
			match = true
			withKeys = withKeys || f.WithKeys
		}
	}
	return match, withKeys
}

// saDebug reports whether a filter selects sa, and with keys.
func (sa *ikeSA) saDebug() (match, withKeys bool) {
	if sa.w.e.dbg.filters.Load() == nil {
		return false, false
	}
	id := ""
	if sa.peerID.Type != 0 {
		id = sa.peerID.String()
	}
	return sa.w.e.debugMatch(sa.remote.Addr(), sa.vpnName(), id)
}

// debugRecord writes one trace record, within the rate bound: to the
// log at level 0 and to Options.OnDebug.
func (e *Engine) debugRecord(peer netip.AddrPort, vpn string, uid uint32, text string) {
	d := &e.dbg
	now := e.now()
	d.mu.Lock()
	if s := now.Unix(); s != d.sec {
		d.sec, d.n = s, 0
	}
	if d.n >= debugRecordsPerSecond {
		d.dropped++
		d.mu.Unlock()
		d.total.Add(1)
		return
	}
	d.n++
	dropped := d.dropped
	d.dropped = 0
	d.mu.Unlock()
	if dropped > 0 {
		text = fmt.Sprintf("(%d debug records dropped before this one) %s", dropped, text)
	}
	e.log.Info("ike debug", "remote", peer, "vpn", vpn, "unique-id", uid, "trace", text)
	if f := e.o.OnDebug; f != nil {
		f(DebugRecord{Time: now, Peer: peer, VPN: vpn, IKESA: uid, Text: text})
	}
}

// traceMessage traces a message of sa: sent, or received; raw are its
// datagrams as on the wire, dumped in hex at level 4.
func (sa *ikeSA) traceMessage(sent bool, h wire.Header, ps []wire.Payload, raw [][]byte) {
	if match, _ := sa.saDebug(); !match {
		return
	}
	from, to := sa.remote, sa.local
	if sent {
		from, to = sa.local, sa.remote
	}
	text := messageTrace(sent, from, to, h, ps)
	sa.w.e.debugRecord(sa.remote, sa.vpnName(), sa.uid, text)
	sa.w.e.traceHex(sa.remote, raw)
}

// traceHex dumps a traced message's octets at level 4: encrypted under
// SK but for IKE_SA_INIT, whose payloads are public, so never a key.
func (e *Engine) traceHex(peer netip.AddrPort, raw [][]byte) {
	if !e.log.Enabled(context.Background(), LevelKeys) {
		return
	}
	for i, b := range raw {
		e.log.Log(context.Background(), LevelKeys, "ike debug hex", "remote", peer, "datagram", i+1, "hex", hex.EncodeToString(b))
	}
}

// traceStateless traces a message that has no IKE SA: an IKE_SA_INIT
// request received, or a stateless response to one; raw is the message.
func (e *Engine) traceStateless(sent bool, d Datagram, h wire.Header, ps []wire.Payload, raw []byte) {
	if e.dbg.filters.Load() == nil {
		return
	}
	if match, _ := e.debugMatch(d.Remote.Addr(), "", ""); !match {
		return
	}
	from, to := d.Remote, d.Local
	if sent {
		from, to = d.Local, d.Remote
	}
	e.debugRecord(d.Remote, "", 0, messageTrace(sent, from, to, h, ps))
	e.traceHex(d.Remote, [][]byte{raw})
}

// traceRefusal traces a refusal the engine logs (refused): its reason
// and what was received against what is configured, from args.
func (e *Engine) traceRefusal(n wire.NotifyType, msg string, remote any, args []any) {
	if e.dbg.filters.Load() == nil {
		return
	}
	var peer netip.AddrPort
	switch r := remote.(type) {
	case netip.AddrPort:
		peer = r
	case netip.Addr:
		peer = netip.AddrPortFrom(r, 0)
	}
	var vpn, id string
	var b strings.Builder
	fmt.Fprintf(&b, "Sending %s: %s", n, msg)
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		v := fmt.Sprint(args[i+1])
		switch k {
		case "vpn":
			vpn = v
		case "peer-id":
			id = v
		}
		fmt.Fprintf(&b, "; %s: %s", k, v)
	}
	if match, _ := e.debugMatch(peer.Addr(), vpn, id); !match {
		// A responder SA has no VPN or identity before IKE_AUTH:
		// the peer's address alone selects.
		if match, _ = e.debugMatch(peer.Addr(), "", ""); !match {
			return
		}
	}
	e.debugRecord(peer, vpn, 0, b.String())
}

// messageTrace renders a message as Cisco's debug does.
func messageTrace(sent bool, from, to netip.AddrPort, h wire.Header, ps []wire.Payload) string {
	var b strings.Builder
	if sent {
		b.WriteString("Sending Packet")
	} else {
		b.WriteString("Received Packet")
	}
	kind := "REQUEST"
	if h.Flags.Response() {
		kind = "RESPONSE"
	}
	fmt.Fprintf(&b, " [From %s/To %s] Initiator SPI : %016X - Responder SPI : %016X Message id: %d %s Exchange %s Payload contents: %s",
		from, to, h.SPIi, h.SPIr, h.MessageID, h.Exchange, kind, payloadList(ps))
	return b.String()
}

// payloadList names payloads as Cisco's debug does: "VID IDi AUTH CFG SA
// TSi TSr NOTIFY(INITIAL_CONTACT)", bounded (a peer chooses how many it
// sends).
func payloadList(ps []wire.Payload) string {
	const most = 32
	var out []string
	for i, p := range ps {
		if i == most {
			out = append(out, fmt.Sprintf("... %d more", len(ps)-i))
			break
		}
		switch x := p.(type) {
		case *wire.Notify:
			out = append(out, "NOTIFY("+x.NotifyType.String()+")")
		case *wire.Delete:
			out = append(out, "DELETE")
		default:
			switch p.Type() {
			case wire.PayloadVendorID:
				out = append(out, "VID")
			case wire.PayloadCP:
				out = append(out, "CFG")
			case wire.PayloadNonce:
				out = append(out, "N")
			default:
				out = append(out, p.Type().String())
			}
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, " ")
}
