// Package engine is the in-process core of the IKEv2 engine (RFC 7296): one
// Engine per vrf owns the IKE SA table and runs the IKE_SA_INIT, IKE_AUTH
// (PSK, first child SA), CREATE_CHILD_SA and INFORMATIONAL exchanges in
// both roles.
//
// The lifecycle of the SAs (issue 6): child SAs are created and rekeyed,
// with or without PFS, and IKE SAs rekeyed by CREATE_CHILD_SA
// (create_child.go, ike_rekey.go), simultaneous rekeys and rekey-versus-
// delete collisions resolved as RFC 7296 §2.8.1, §2.8.2 and §2.25 say;
// soft and hard lifetimes with a random margin (lifetime.go), and the
// dataplane's bytes/packets expiries (Expire); reauthentication, make-
// or break-before-make (reauth.go); DPD with the vsr and Juniper modes
// (dpd.go); start-, close- and dpd-action with trap policies and acquires
// (actions.go); the operator's commands (api.go).
//
// The engine is deterministic apart from its random source: input is a
// datagram (HandleDatagram), an API call or a timer message; output is
// datagrams on the Conn and child SAs on the Dataplane. One mutex protects
// all state; each IKE SA has one task manager (taskmgr.go) that owns its
// message IDs, the retransmission of its outstanding request (window of 1)
// and the cache of its last response. Protected messages larger than the
// fragment size travel as IKE fragments (fragment.go, RFC 7383), and an SA
// whose own address is behind a NAT sends NAT keepalives (keepalive.go,
// RFC 3948); their timers are messages too.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// IKE ports (RFC 7296 §2, RFC 3948).
const (
	PortIKE  = 500
	PortNATT = 4500
)

// LevelKeys is the slog level of messages that carry key material (level 4
// of the logging subsystems); nothing below it ever logs keys.
const LevelKeys = slog.LevelDebug - 4

// Options configures an Engine.
type Options struct {
	// VRF names the vrf, for logs.
	VRF string
	// Config is the resolved configuration.
	Config *config.Config
	// LocalAddr is the address used for VPNs without local-address.
	LocalAddr netip.Addr
	Conn      Conn
	Clock     Clock     // nil: SystemClock
	Dataplane Dataplane // required
	Logger    *slog.Logger
	// Rand is the source of SPIs, nonces and cookie secrets; nil means
	// crypto/rand.
	Rand io.Reader
	// Jitter returns numbers in [0,1) for the retransmission jitter, the
	// random margin of the soft lifetimes (RekeyMarginPct) and the wait
	// after TEMPORARY_FAILURE; nil means math/rand/v2.Float64.
	Jitter func() float64
	// Events, if set, is told when SAs come up, go down or fail (see
	// Event). It is called with the engine's lock held: it must not block
	// nor call the Engine.
	Events func(Event)
	// ForceEncap makes every SA use UDP encapsulation of ESP (RFC 3948)
	// by announcing a NAT in front of us (a NAT_DETECTION_SOURCE_IP hash
	// that matches no address), for a dataplane that only does ESP in UDP.
	ForceEncap bool
	// RequireCookies forces the cookie challenge (RFC 7296 §2.6) whatever
	// the configured cookie-threshold.
	RequireCookies bool
	// FragmentSize is the largest IP datagram, headers included, of an
	// IKE fragment we send (RFC 7383 §2.5.1); 0 means
	// DefaultFragmentSize. The model has no leaf for it.
	FragmentSize int
	// KeepaliveInterval is the NAT keepalive interval (RFC 3948 §2.3);
	// 0 means DefaultKeepaliveInterval, a negative value disables them.
	KeepaliveInterval time.Duration
	// MaxChildSAs bounds the child SAs of one IKE SA; 0 means
	// DefaultMaxChildSAs.
	MaxChildSAs int
}

// Engine is the IKEv2 engine of one vrf.
type Engine struct {
	mu  sync.Mutex
	o   Options
	log *slog.Logger

	// sas is the SA table, keyed by our own SPI (SPIi when we initiated,
	// SPIr when we responded).
	sas map[uint64]*ikeSA
	// halfOpen finds a responder SA by the initiator's address and SPI,
	// to answer a retransmitted IKE_SA_INIT request from its cache (RFC
	// 7296 §2.1).
	halfOpen map[halfOpenKey]*ikeSA

	cookieSecret [32]byte
	// uids numbers IKE and child SAs for the operational state.
	uids uint32

	// spis finds a child SA's IKE SA by the child's inbound SPI; a nil
	// value reserves an SPI offered in a negotiation under way.
	spis map[uint32]*ikeSA
	// reservedSPIs are our SPIs of IKE SAs being created by a rekey.
	reservedSPIs map[uint64]bool
	// traps are the installed trap policies, by security policy name.
	traps map[string]Trap
	// acquires holds, per security policy, until when a negotiation an
	// acquire started makes further acquires wait (acquire-timeout).
	acquires map[string]time.Time
	// warnedNoTraps: the dataplane's lack of trap policies was logged.
	warnedNoTraps bool
}

// nextUID returns the next unique-id (never 0); e.mu is held.
func (e *Engine) nextUID() uint32 {
	e.uids++
	if e.uids == 0 {
		e.uids++
	}
	return e.uids
}

type halfOpenKey struct {
	remote netip.AddrPort
	spii   uint64
}

// New returns an Engine. It sends nothing until it is told to initiate or
// receives a datagram.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Jitter == nil {
		o.Jitter = mrand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config == nil {
		o.Config = &config.Config{}
	}
	e := &Engine{
		o:        o,
		log:      o.Logger.With("subsystem", "ike", "vrf", o.VRF),
		sas:      map[uint64]*ikeSA{},
		halfOpen: map[halfOpenKey]*ikeSA{},
		spis:     map[uint32]*ikeSA{},
		traps:    map[string]Trap{},
		acquires: map[string]time.Time{},

		reservedSPIs: map[uint64]bool{},
	}
	io.ReadFull(o.Rand, e.cookieSecret[:])
	return e
}

// Run reads datagrams from the Conn and handles them until ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	for {
		d, err := e.o.Conn.Receive(ctx)
		if err != nil {
			return err
		}
		e.HandleDatagram(d)
	}
}

// HandleDatagram processes one received datagram. Anything malformed,
// unauthenticated, stale or unexpected is dropped (RFC 7296 §2.21); error
// notifications are sent where the RFC asks for them.
func (e *Engine) HandleDatagram(d Datagram) {
	e.mu.Lock()
	defer e.mu.Unlock()
	data := d.Data
	if d.Local.Port() == PortNATT {
		// RFC 3948 §2.2: IKE on port 4500 follows the Non-ESP Marker.
		switch wire.ClassifyNATT(data) {
		case wire.PacketIKE:
			data, _ = wire.StripNonESPMarker(data)
		case wire.PacketKeepalive:
			return // RFC 3948 §2.3: a NAT-keepalive is ignored
		default:
			return // ESP is the dataplane's; anything else is noise
		}
	}
	m, err := wire.Parse(data)
	if err != nil {
		if errors.Is(err, wire.ErrBadVersion) {
			e.rejectVersion(d, data)
		}
		e.log.Debug("dropping malformed message", "remote", d.Remote, "err", err)
		return
	}
	h := m.Header
	if h.Exchange == wire.ExchangeIKESAInit && !h.Flags.Response() {
		e.handleInitRequest(d, m)
		return
	}
	// Our SPI is the responder's when the original initiator sent it.
	spi := h.SPIi
	if h.Flags.Initiator() {
		spi = h.SPIr
	}
	sa := e.sas[spi]
	if sa == nil || (sa.initiator == h.Flags.Initiator()) {
		e.log.Debug("dropping message for unknown IKE SA", "remote", d.Remote, "msg", m.String())
		return
	}
	if h.Exchange != wire.ExchangeIKESAInit && (h.SPIi != sa.spii || h.SPIr != sa.spir) {
		return
	}
	if h.Flags.Response() {
		sa.handleResponse(d, m)
	} else {
		sa.handleRequest(d, m)
	}
}

// Initiate starts an IKE SA, with the child SA of its first security
// policy, for the named VPN (RFC 7296 §1.2). It returns once the
// IKE_SA_INIT request is sent.
func (e *Engine) Initiate(vpn string) error {
	_, err := e.InitiateSA(vpn)
	return err
}

// InitiateSA is Initiate that returns the unique-id of the new IKE SA.
func (e *Engine) InitiateSA(vpn string) (uint32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := e.o.Config.VPN(vpn)
	if v == nil || !v.Initiator() {
		return 0, ErrUnknownVPN
	}
	local, remote := e.endpoints(v)
	return e.startIKE(v, local, remote, false, v.Policies[:min(1, len(v.Policies))], nil).uid, nil
}

// DeleteIKE deletes the IKE SA with our SPI spi and its child SAs with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1).
func (e *Engine) DeleteIKE(spi uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[spi]
	if sa == nil || sa.state != stateEstablished {
		return ErrNoSA
	}
	sa.queue(&deleteTask{ike: true})
	sa.startNext()
	return nil
}

// DeleteChild deletes the child SA whose inbound SPI is inSPI with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1).
func (e *Engine) DeleteChild(inSPI uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.spis[inSPI]
	if sa == nil || sa.state != stateEstablished {
		return ErrNoSA
	}
	c := sa.child(inSPI)
	if c == nil || c.state == childDeleting {
		return ErrNoSA
	}
	c.state = childDeleting
	sa.queue(&deleteTask{child: inSPI})
	sa.startNext()
	return nil
}

// CheckLiveness sends an empty INFORMATIONAL request on the IKE SA (RFC
// 7296 §1.4, DPD); an unanswered one ends the SA after the retransmissions.
func (e *Engine) CheckLiveness(spi uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[spi]
	if sa == nil || sa.state != stateEstablished {
		return ErrNoSA
	}
	sa.queue(&livenessTask{})
	sa.startNext()
	return nil
}

// IKESAInfo describes an IKE SA for the operational state.
type IKESAInfo struct {
	VPN        string
	SPIi, SPIr uint64
	Initiator  bool
	State      string
	Children   int
	// LastError is the last notify error of the SA, if any.
	LastError wire.NotifyType
}

// IKESAs lists the IKE SAs, keyed by our SPI.
func (e *Engine) IKESAs() map[uint64]IKESAInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[uint64]IKESAInfo{}
	for id, sa := range e.sas {
		name := ""
		if sa.vpn != nil {
			name = sa.vpn.Name
		}
		out[id] = IKESAInfo{VPN: name, SPIi: sa.spii, SPIr: sa.spir, Initiator: sa.initiator,
			State: sa.state.String(), Children: len(sa.children), LastError: sa.lastError}
	}
	return out
}

func (e *Engine) newSA(initiator bool, v *config.VPN) *ikeSA {
	sa := &ikeSA{e: e, initiator: initiator, vpn: v, uid: e.nextUID()}
	for {
		var b [8]byte
		io.ReadFull(e.o.Rand, b[:])
		sa.id = binary.BigEndian.Uint64(b[:])
		if sa.id != 0 && e.sas[sa.id] == nil && !e.reservedSPIs[sa.id] {
			break
		}
	}
	e.sas[sa.id] = sa
	return sa
}

func (e *Engine) saLogger(sa *ikeSA) *slog.Logger {
	name := ""
	if sa.vpn != nil {
		name = sa.vpn.Name
	}
	return e.log.With("vpn", name, "spii", spiString(sa.spii), "remote", sa.remote)
}

// removeSA drops the SA from the tables and deletes its child SAs from the
// dataplane. Then, as the reason for the removal says: dpd-action when the
// peer stopped answering, close-action when the peer deleted it, the new
// IKE SA of a break-before-make reauthentication.
func (e *Engine) removeSA(sa *ikeSA) {
	if sa.state == stateDeleted {
		return
	}
	sa.stopTimers()
	sa.stopIKETimers()
	e.emitDown(sa)
	var policies []config.SecurityPolicy
	if sa.vpn != nil && sa.state == stateEstablished {
		policies = sa.policiesOf()
	}
	for _, c := range sa.children {
		sa.stopChildTimers(c)
		if e.spis[c.InSPI] == sa {
			delete(e.spis, c.InSPI)
		}
		if err := e.o.Dataplane.DeleteChild(c.ChildSA); err != nil {
			sa.log.Warn("dataplane delete failed", "subsystem", "child", "err", err)
		}
	}
	sa.children = nil
	if p := sa.pending; p != nil {
		abortTask(sa, p.task)
	}
	for _, t := range sa.tasks {
		abortTask(sa, t)
	}
	sa.tasks = nil
	established := sa.state == stateEstablished
	sa.state = stateDeleted
	delete(e.sas, sa.id)
	if sa.haveHalfOpen {
		delete(e.halfOpen, sa.halfOpenKey)
	}
	if sa.keys != nil {
		sa.keys.Clear()
	}
	switch {
	case sa.reestablish != nil:
		r := sa.reestablish
		sa.log.Info("setting up the new IKE SA of the reauthentication")
		e.startIKE(r.v, r.local, r.remote, r.natt, r.policies, nil)
	case sa.peerDead && established:
		e.dpdAction(sa, policies)
	case sa.closedByPeer:
		for _, p := range policies {
			e.closeAction(sa.vpn, p.Name)
		}
	}
}

// abortTask frees what a task that will never complete holds: reserved
// SPIs, and the acquire of the child SA it was to create.
func abortTask(sa *ikeSA, t task) {
	switch x := t.(type) {
	case *ikeRekeyTask:
		x.abort(sa)
	case *childCreateTask:
		sa.e.releaseSPI(x.spi)
		if x.rekey == nil {
			sa.e.childFailed(sa, x.policy.Name, "")
		}
	case *authTask:
		sa.e.releaseSPI(x.spi)
		for _, p := range x.policies {
			sa.e.childFailed(sa, p.Name, "")
		}
	}
}

func (e *Engine) halfOpenCount() int {
	n := 0
	for _, sa := range e.sas {
		if !sa.initiator && sa.state == stateInit {
			n++
		}
	}
	return n
}
