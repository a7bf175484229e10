// Package engine is the in-process core of the IKEv2 engine (RFC 7296): an
// Engine (the daemon runs one, for vrf main) owns the IKE SA table and runs the IKE_SA_INIT, IKE_AUTH
// (PSK, first child SA), CREATE_CHILD_SA and INFORMATIONAL exchanges in
// both roles.
//
// The lifecycle of the SAs: child SAs are created and rekeyed,
// with or without PFS, and IKE SAs rekeyed by CREATE_CHILD_SA
// (create_child.go, ike_rekey.go), simultaneous rekeys and rekey-versus-
// delete collisions resolved as RFC 7296 §2.8.1, §2.8.2 and §2.25 say;
// soft and hard lifetimes with a random margin (lifetime.go), and the
// dataplane's bytes/packets expiries (Expire); reauthentication, make-
// or break-before-make (reauth.go); DPD with the vsr and Juniper modes
// (dpd.go); start-, close- and dpd-action with trap policies and acquires
// (actions.go); the operator's commands (api.go); INITIAL_CONTACT and
// unique-sa, the uniqueness of IKE SAs per peer identity (unique.go).
//
// The engine is deterministic apart from its random source: input is a
// datagram (HandleDatagram), an API call or a timer message; output is
// datagrams on the Conn and child SAs on the Dataplane. The work is spread
// over workers (global-options threads, worker.go): an IKE SA belongs to
// the worker of its peer's address, whose lock protects it; the SA table
// has sa-table-size buckets in sa-table-segments locked segments
// (satable.go); timers are per-worker heaps (timers.go); dos-protection
// (dos.go) bounds what a flood of IKE_SA_INIT requests costs. Each IKE SA
// has one task manager (taskmgr.go) that owns its
// message IDs, the retransmission of its outstanding requests and the cache
// of its last responses: a window of 1 unless both peers announced more
// with SET_WINDOW_SIZE (window.go, RFC 7296 §2.3). Protected messages larger than the
// fragment size travel as IKE fragments (fragment.go, RFC 7383), and an SA
// whose own address is behind a NAT sends NAT keepalives (keepalive.go,
// RFC 3948); their timers are messages too. For high availability
// (ha.go) the engine reports its established IKE SAs as records to a
// SyncSink, and in the standby role holds the records of the other node
// passive and drops every datagram until SetRole makes it take them over.
package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"secgw/internal/ipsec"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
	"secgw/internal/logging/loglimit"
)

// IKE ports (RFC 7296 §2, RFC 3948).
const (
	PortIKE  = 500
	PortNATT = 4500
)

// LevelKeys is the slog level of messages that carry key material (level 4
// of the logging subsystems); nothing below it ever logs keys, and it only
// does with Options.LogKeys.
const LevelKeys = slog.LevelDebug - 4

// Options configures an Engine.
type Options struct {
	// VRF names the vrf, for logs.
	VRF string
	// Config is the resolved configuration.
	Config *config.Config
	// LocalAddr is the address used for VPNs without local-address.
	LocalAddr netip.Addr
	// Conn, Dataplane and Events are called from the engine's workers,
	// several at once: they must be safe for concurrent use.
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
	// Event). It is called with the lock of the SA's worker held, and
	// from several workers at once: it must be safe for concurrent use,
	// must not block and must not call the Engine.
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
	// MOBIKEPath, if set, is the local address routing now picks to reach
	// remote, when the IKE sockets can send from it: a MOBIKE IKE SA we
	// decide for whose requests go unanswered moves there (mobike.go).
	MOBIKEPath func(remote netip.Addr) (netip.Addr, bool)
	// MOBIKEAddrs, if set, are the local addresses the IKE sockets are
	// bound to: a MOBIKE IKE SA advertises those of its family other than
	// its own (ADDITIONAL_IP4/6_ADDRESS, RFC 4555 §3.6) and, as the side
	// that decides, tries them when its path stops working (mobike.go).
	MOBIKEAddrs func() []netip.Addr
	// SupportsESP, if set, tells which ESP suites the dataplane can
	// carry (see ESPSupport): the others are neither offered nor
	// accepted, so that no child SA is negotiated that cannot be
	// installed. nil: the dataplane carries every suite.
	SupportsESP func(ikecrypto.Suite) bool
	// LogKeys lets the records of key material (IKE and child SA keys,
	// in hex) out at LevelKeys; without it nothing logs keys, whatever
	// the level (secgwd -log-keys).
	LogKeys bool
	// OnDebug, if set, receives the debug trace records (debug.go) as
	// they are logged, for the operators streaming them; called with a
	// worker's lock held: it must not block.
	OnDebug func(DebugRecord)
	// LookupHost resolves the name of a gateway a REDIRECT names (RFC
	// 5685); nil means the system resolver.
	LookupHost func(ctx context.Context, name string) ([]netip.Addr, error)
	// AAA, if set, is the AAA server of remote-auth-method eap-radius
	// (eap.go); without it EAP peers are refused.
	AAA AAA
	// HAStandby starts the engine in the HA standby role (the HA
	// design's "init": the node with ike ha configured answers and
	// initiates nothing until its VRRP group is known); SetRole moves
	// it. false, the default: active from the start (ha.go).
	HAStandby bool
	// VIPs, if set, serves the virtual IPs of the configuration payload
	// (vip.go): leases from the pools as responder, the addresses
	// received installed on the host as initiator. nil: no CFG_REPLY is
	// sent and received addresses are not installed.
	VIPs VIPs
}

// Engine is the IKEv2 engine of one vrf.
//
// Locking (see worker.go): each IKE SA belongs to the worker of its
// peer's address and is only touched with that worker's lock held. The
// SA table (satable.go) has its own segment locks; the child SA SPIs
// (spiMu) and the trap and acquire state (pmu) have theirs; all three are
// leaves. The configuration is read atomically and replaced by SetConfig
// or ApplyConfig, which then lock the workers one at a time (update.go).
type Engine struct {
	o Options
	// log and childLog are Options.Logger with the vrf and the subsystem
	// (ike; child for the records of child SAs): a record carries its
	// subsystem once, from the logger it is logged on.
	log, childLog *slog.Logger
	epoch         time.Time
	// limit rate-limits the log records a flood repeats per datagram.
	limit *loglimit.Limiter

	cfg atomic.Pointer[config.Config]
	// cfgMu orders the configuration changes (SetConfig, ApplyConfig):
	// one at a time, none holding a worker lock while it waits.
	cfgMu sync.Mutex
	// work counts what the configuration changes did (UpdateWork).
	work updateWork
	// pacer spaces out the initiations of start-action start,
	// close-action start and dpd-action restart (initiate-rate).
	pacer pacer
	// set is the workers and the SA table (keyed by our own SPI: SPIi
	// when we initiated, SPIr when we responded).
	set atomic.Pointer[workerSet]

	// cookies are the secrets of the COOKIE (cookie.go).
	cookies cookieJar
	// uids numbers IKE and child SAs for the operational state.
	uids atomic.Uint32

	// dos counts half-open and established IKE SAs and the refusals of
	// the DoS protection; jobs is the number of received datagrams
	// waiting for a worker in Run (init-limit-job-load).
	dos  dosCounters
	jobs atomic.Int64
	// panics counts the panics recovered at the roots of the
	// engine's goroutines (recoverPanic).
	panics atomic.Uint64
	// ops counts requests, retransmissions, DPD and refusals; running
	// is Run's dispatcher, for WorkerStats (opstats.go).
	ops     opCounters
	running atomic.Pointer[runner]

	// contacts finds the established IKE SAs by peer identity, for
	// INITIAL_CONTACT and unique-sa (unique.go).
	contacts contactIndex
	// vipFailures counts the INTERNAL_ADDRESS_FAILURE notifies sent
	// (vip.go).
	vipFailures atomic.Uint64
	// redir counts redirects and bounds those we follow (redirect.go).
	redir redirects
	// badSPI counts and rate-limits the INVALID_SPI notifications of
	// respond-bad-spi (badspi.go).
	badSPI badSPIState
	// dbg holds the debug filters and bounds the traces (debug.go).
	dbg debugState

	spiMu sync.Mutex
	// spis finds a child SA's IKE SA by the child's inbound SPI; a nil
	// value reserves an SPI offered in a negotiation under way.
	spis map[uint32]*ikeSA
	// outSPIs finds it by the child's outbound SPI (the peer's choice:
	// the SPIs of several peers may coincide, and then the value is
	// outShared, outspi.go).
	outSPIs   map[uint32]*ikeSA
	outShared *ikeSA
	// outScanned counts the IKE SAs ExpireSA visited for outbound SPIs
	// the index could not tell: the work it does beyond the index.
	outScanned atomic.Uint64

	pmu sync.Mutex
	// traps are the installed trap policies, by security policy name.
	traps map[string]Trap
	// trapsOf are the policy names of the traps of each VPN, so that a
	// commit removes a VPN's traps without walking all of them.
	trapsOf map[string][]string
	// acquires holds, per security policy, until when a negotiation an
	// acquire started makes further acquires wait (acquire-timeout).
	acquires map[string]time.Time
	// warnedNoTraps: the dataplane's lack of trap policies was logged.
	warnedNoTraps bool

	// ha is the HA role, the passive SAs and the SyncSink (ha.go).
	ha haState
	// certs are the peers' chains parsed and verified (certcache.go).
	certs certCache
}

// config returns the configuration in use.
func (e *Engine) config() *config.Config { return e.cfg.Load() }

// nextUID returns the next unique-id (never 0).
func (e *Engine) nextUID() uint32 {
	for {
		if u := e.uids.Add(1); u != 0 {
			return u
		}
	}
}

type halfOpenKey struct {
	remote netip.AddrPort
	spii   uint64
}

// New returns an Engine. It sends nothing until it is told to initiate or
// receives a datagram, and starts no goroutine: Run does, and the Clock's
// timers.
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
		o:         o,
		log:       o.Logger.With("subsystem", "ike", "vrf", o.VRF),
		childLog:  o.Logger.With("subsystem", "child", "vrf", o.VRF),
		limit:     loglimit.NewLimiter(0, 0),
		epoch:     time.Now(),
		spis:      map[uint32]*ikeSA{},
		outSPIs:   map[uint32]*ikeSA{},
		outShared: &ikeSA{},
		traps:     map[string]Trap{},
		trapsOf:   map[string][]string{},
		acquires:  map[string]time.Time{},
	}
	e.cfg.Store(o.Config)
	e.ha.standby.Store(o.HAStandby)
	e.set.Store(e.newWorkerSet(o.Config.Global))
	e.initCookies()
	return e
}

// HandleDatagram processes one received datagram, in the caller's
// goroutine, under the lock of the worker of the IKE SA it is for (of the
// peer, for an IKE_SA_INIT request). Anything malformed, unauthenticated,
// stale or unexpected is dropped (RFC 7296 §2.21); error notifications
// are sent where the RFC asks for them. Parsing happens before any lock
// is taken.
func (e *Engine) HandleDatagram(d Datagram) {
	defer e.recoverPanic("datagram")
	if e.standby() {
		// HA standby: the active node answers (ha.go); during a
		// takeover the datagram waits for the SAs (holdDatagram).
		if e.holdDatagram(d) {
			return
		}
		if e.standby() {
			e.ha.dropped.Add(1)
			return
		}
	}
	data := d.Data
	if d.Local.Port() == PortNATT {
		// RFC 3948 §2.2: IKE on port 4500 follows the Non-ESP Marker.
		switch ipsec.ClassifyNATT(data) {
		case ipsec.PacketIKE:
			data, _ = ipsec.StripNonESPMarker(data)
		case ipsec.PacketKeepalive:
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
		e.debugLimited("dropping malformed message", "remote", d.Remote, "err", err)
		return
	}
	h := m.Header
	if h.Exchange == wire.ExchangeIKESAInit && !h.Flags.Response() {
		w := e.lockPeer(d.Remote.Addr())
		defer w.unlock()
		e.traceStateless(false, d, h, m.Payloads, data) // debug.go
		e.handleInitRequest(w, d, m)
		return
	}
	// Our SPI is the responder's when the original initiator sent it.
	spi := h.SPIi
	if h.Flags.Initiator() {
		spi = h.SPIr
	}
	sa := e.set.Load().table.get(spi)
	if sa == nil {
		e.dropUnknown(d, m)
		return
	}
	w, live := e.lockSA(sa)
	defer w.unlock()
	if !live || sa.initiator == h.Flags.Initiator() {
		e.dropUnknown(d, m)
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

func (e *Engine) dropUnknown(d Datagram, m *wire.Message) {
	if e.log.Enabled(context.Background(), slog.LevelDebug) {
		e.limit.Log(nil, e.log, slog.LevelDebug, "dropping message for unknown IKE SA", "remote", d.Remote, "msg", m.String())
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
	v := e.config().VPN(vpn)
	if v == nil || !v.Initiator() {
		return 0, ErrUnknownVPN
	}
	if e.standby() {
		return 0, ErrStandby
	}
	return e.initiateOn(v, v.Policies[:min(1, len(v.Policies))]), nil
}

// initiateOn starts an IKE SA of an initiating VPN from the API, under
// the lock of the worker of its remote-address.
func (e *Engine) initiateOn(v *config.VPN, policies []config.SecurityPolicy) uint32 {
	local, remote := e.endpoints(v)
	w := e.lockPeer(remote.Addr())
	defer w.unlock()
	return e.startIKE(w, v, local, remote, false, policies, nil).uid
}

// lookup finds an IKE SA by our SPI and locks its worker; the caller
// unlocks w when sa is not nil.
func (e *Engine) lookup(spi uint64) (sa *ikeSA, w *worker) {
	sa = e.set.Load().table.get(spi)
	if sa == nil {
		return nil, nil
	}
	w, live := e.lockSA(sa)
	if !live {
		w.unlock()
		return nil, nil
	}
	return sa, w
}

// lookupChild finds a child SA's IKE SA by the child's inbound SPI and
// locks its worker; the caller unlocks w when sa is not nil. The child
// SA may move to another IKE SA of the worker (an IKE SA rekey) until
// the lock is held: the owner is looked up again then.
func (e *Engine) lookupChild(inSPI uint32) (sa *ikeSA, w *worker) {
	for {
		sa = e.spiOwner(inSPI)
		if sa == nil {
			return nil, nil
		}
		w, live := e.lockSA(sa)
		if live && e.spiOwner(inSPI) == sa {
			return sa, w
		}
		w.unlock()
		if !live {
			return nil, nil
		}
	}
}

// DeleteIKE deletes the IKE SA with our SPI spi and its child SAs with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1).
func (e *Engine) DeleteIKE(spi uint64) error {
	sa, w := e.lookup(spi)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished {
		return ErrNoSA
	}
	sa.queue(&deleteTask{ike: true})
	sa.startNext()
	return nil
}

// DeleteChild deletes the child SA whose inbound SPI is inSPI with an
// INFORMATIONAL exchange (RFC 7296 §1.4.1).
func (e *Engine) DeleteChild(inSPI uint32) error {
	sa, w := e.lookupChild(inSPI)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished {
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
	sa, w := e.lookup(spi)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished {
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

// IKESAs lists the IKE SAs, keyed by our SPI. The workers are visited one
// at a time: the list is not one instant's.
func (e *Engine) IKESAs() map[uint64]IKESAInfo {
	out := map[uint64]IKESAInfo{}
	e.eachSA(func(sa *ikeSA) bool {
		if sa.flushed {
			return true // gone for everyone but the peer (flush.go)
		}
		name := ""
		if sa.vpn != nil {
			name = sa.vpn.Name
		}
		out[sa.id] = IKESAInfo{VPN: name, SPIi: sa.spii, SPIr: sa.spir, Initiator: sa.initiator,
			State: sa.state.String(), Children: len(sa.children), LastError: sa.lastError}
		return true
	})
	return out
}

// newSA creates an IKE SA on worker w (locked), with a fresh SPI of ours.
func (e *Engine) newSA(w *worker, initiator bool, v *config.VPN) *ikeSA {
	sa := &ikeSA{initiator: initiator, vpn: v, uid: e.nextUID()}
	w.add(sa)
	e.set.Load().table.insertNew(sa, e.o.Rand)
	return sa
}

// removeSA drops the SA from the tables and deletes its child SAs from the
// dataplane. Then, as the reason for the removal says: dpd-action when the
// peer stopped answering, close-action when the peer deleted it, the new
// IKE SA of a break-before-make reauthentication.
func (e *Engine) removeSA(sa *ikeSA) {
	if sa.state == stateDeleted {
		return
	}
	sa.syncLater() // an SADelete (ha.go)
	sa.stopTimers()
	sa.stopIKETimers()
	sa.endHalfOpen()
	e.emitDown(sa)
	sa.aaaStop() // eap_acct.go: with the counters of the child SAs still installed
	var policies []config.SecurityPolicy
	if sa.vpn != nil && sa.state == stateEstablished {
		policies = sa.policiesOf()
	}
	for _, c := range sa.children {
		e.dropSPI(c, sa)
		if err := e.o.Dataplane.DeleteChild(sa.childSA(c)); err != nil {
			sa.childLog().Warn("dataplane delete failed", "err", err)
		}
	}
	sa.children = nil
	for _, r := range sa.out {
		abortTask(sa, r.task)
	}
	sa.out = nil
	for _, t := range sa.tasks {
		abortTask(sa, t)
	}
	sa.tasks = nil
	sa.dropFollowup() // followup.go
	sa.releaseVIPs()  // vip.go
	established := sa.state == stateEstablished
	if established {
		e.dos.established.Add(-1)
	}
	sa.state = stateDeleted
	sa.releaseStream() // tcp.go
	e.contacts.drop(sa)
	e.set.Load().table.remove(sa)
	sa.w.drop(sa)
	clear(sa.keymat)
	switch {
	case sa.reestablish != nil:
		r := sa.reestablish
		sa.log().Info("setting up the new IKE SA of the reauthentication")
		e.onPeer(sa.w, r.remote.Addr(), func(w *worker) {
			e.startIKEVia(w, r.v, r.local, r.remote, r.natt, r.policies, nil, startVia{tcp: r.v.Transport == config.TransportTCP, from: r.from})
		})
	case sa.peerDead && established:
		e.dpdAction(sa, policies)
	case sa.closedByPeer:
		for _, p := range policies {
			e.closeAction(sa.w, sa.vpn, p.Name)
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
		sa.w.e.releaseSPI(x.spi)
		if x.rekey == nil {
			sa.w.e.childFailed(sa, x.policy.Name, "")
		}
	case *authTask:
		sa.w.e.releaseSPI(x.spi)
		for _, p := range x.policies {
			sa.w.e.childFailed(sa, p.Name, "")
		}
	case *followupTask:
		x.fail(sa)
	}
}

// spiOwner returns the IKE SA of the child SA with inbound SPI spi.
func (e *Engine) spiOwner(spi uint32) *ikeSA {
	e.spiMu.Lock()
	defer e.spiMu.Unlock()
	return e.spis[spi]
}

// setSPIOwner records sa as the IKE SA of child SA c, by its inbound and
// its outbound SPI.
func (e *Engine) setSPIOwner(c *childSA, sa *ikeSA) {
	e.spiMu.Lock()
	e.spis[c.InSPI] = sa
	e.setOutOwner(c.OutSPI, sa)
	e.spiMu.Unlock()
}

// moveSPIOwner records n as the IKE SA of child SA c in place of sa,
// which n replaces (moveTo).
func (e *Engine) moveSPIOwner(c *childSA, sa, n *ikeSA) {
	e.spiMu.Lock()
	e.spis[c.InSPI] = n
	e.moveOutOwner(c.OutSPI, sa, n)
	e.spiMu.Unlock()
}

// dropSPI forgets child SA c if sa owns it.
func (e *Engine) dropSPI(c *childSA, sa *ikeSA) {
	e.spiMu.Lock()
	if e.spis[c.InSPI] == sa {
		delete(e.spis, c.InSPI)
	}
	e.dropOutOwner(c.OutSPI, sa)
	e.spiMu.Unlock()
}
