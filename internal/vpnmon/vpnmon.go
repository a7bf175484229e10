// Package vpnmon is the VPN monitor (Juniper's vpn-monitor): an ICMP
// echo through a child SA to a destination at the other end of the
// tunnel every interval, and after threshold unanswered ones in a row
// the child SA is declared down and the configured action runs (the IKE
// service restarts the child SA). DPD proves the IKE peer alive; this
// proves the ESP path, which a firewall between the gateways or a peer
// that lost its SAs can break while IKE still answers.
//
// The core is deterministic, as etcd raft's: Tick(now) and Reply(id,
// seq, now) are its only inputs, the Prober (echo requests out) and the
// Hooks its outputs. The daemon drives Tick from a one-second ticker
// and Reply from the ICMP socket (icmp.go); tests drive both with a
// fake clock.
package vpnmon

import (
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Key names a monitored child SA: its unique-id in the state.
type Key uint32

// Config is what vpn-monitor configures for one child SA.
type Config struct {
	// Src is the source of the echo requests, a local address inside
	// the child SA's local selector; Dst the destination inside the
	// remote one (destination-ip).
	Src, Dst netip.Addr
	// Interval between two echo requests; Threshold the unanswered ones
	// in a row that declare the child SA down.
	Interval  time.Duration
	Threshold int
	// Optimized sends no echo in an interval in which the child SA
	// received traffic: inbound ESP proves the path as well.
	Optimized bool
	// Dev, if set, is the device the echoes leave by whatever the
	// routes say (the userspace dataplane's TUN device): a child SA
	// whose routes wait for datapath verification is probed all the
	// same.
	Dev string
	// Verify is datapath verification (verify-path): until its first
	// echo is answered the child SA stays Verifying, inbound traffic
	// notwithstanding (Optimized counts only once it is Up).
	Verify bool
}

// State is where a monitored child SA stands.
type State uint8

const (
	// Verifying: no echo answered yet (Juniper's "V" while the datapath
	// is verified).
	Verifying State = iota
	// Up: the last echo was answered, or traffic came in (optimized).
	Up
	// Down: threshold echoes in a row went unanswered.
	Down
)

// String names the state as the child-sa vpn-monitor leaf does.
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "verifying"
}

// Status is a monitored child SA's state and counters.
type Status struct {
	State State
	// Failures counts the unanswered echoes in a row.
	Failures int
	// Sent and Answered count the echo requests and their replies.
	Sent, Answered uint64
}

// Prober sends one ICMP echo request from src to dst with the
// identifier and sequence number given, out of device dev when dev is
// not empty (Config.Dev).
type Prober interface {
	Echo(src, dst netip.Addr, dev string, id, seq uint16) error
}

// Hooks are what the monitor tells its owner; each is called without
// the monitor's lock held, and may be nil.
type Hooks struct {
	// LastInbound returns when the child SA last received traffic,
	// for Optimized (zero: unknown, the echo is sent).
	LastInbound func(Key) time.Time
	// Down is called once when a child SA reaches threshold
	// unanswered echoes.
	Down func(Key, Status)
	// Up is called when a child SA answers its first echo, and when one
	// that was down answers again.
	Up func(Key)
}

// target is one monitored child SA; Monitor.mu guards it.
type target struct {
	cfg      Config
	id, seq  uint16
	waiting  bool      // the echo seq is unanswered
	next     time.Time // when the next interval ends
	probedAt time.Time // when the last echo was sent
	st       Status
}

// Monitor monitors child SAs. It is safe for concurrent use.
type Monitor struct {
	p Prober
	h Hooks

	mu      sync.Mutex
	targets map[Key]*target
	byID    map[uint16]Key
	nextID  uint16
}

// New returns a Monitor sending its echoes through p.
func New(p Prober, h Hooks) *Monitor {
	return &Monitor{p: p, h: h, targets: map[Key]*target{}, byID: map[uint16]Key{}}
}

// Set starts monitoring child SA k with c, the first echo at now; a
// child SA already monitored keeps its state and counters and takes the
// new configuration at its next interval.
func (m *Monitor) Set(k Key, c Config, now time.Time) {
	if c.Threshold < 1 {
		c.Threshold = 1
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.targets[k]; ok {
		t.cfg = c
		return
	}
	// Each child SA gets its own echo identifier, so that a reply names
	// the child SA it answers (Juniper puts a tunnel id in its echoes).
	for {
		m.nextID++
		if _, used := m.byID[m.nextID]; !used && m.nextID != 0 {
			break
		}
	}
	m.targets[k] = &target{cfg: c, id: m.nextID, next: now}
	m.byID[m.nextID] = k
}

// Remove stops monitoring child SA k (deleted, or replaced by a rekey).
func (m *Monitor) Remove(k Key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.targets[k]; ok {
		delete(m.byID, t.id)
		delete(m.targets, k)
	}
}

// Keys returns the monitored child SAs, in order.
func (m *Monitor) Keys() []Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Key, 0, len(m.targets))
	for k := range m.targets {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Status returns the state of child SA k.
func (m *Monitor) Status(k Key) (Status, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.targets[k]
	if !ok {
		return Status{}, false
	}
	return t.st, true
}

type echo struct {
	src, dst netip.Addr
	dev      string
	id, seq  uint16
}

// Tick runs the intervals that ended by now: for each, an echo still
// unanswered counts as a failure (threshold of them in a row: Down),
// then, unless Optimized and traffic came in since the last echo, a new
// echo is sent.
func (m *Monitor) Tick(now time.Time) {
	var out []echo
	var downs []Key
	var downSt []Status
	var ups []Key
	m.mu.Lock()
	keys := make([]Key, 0, len(m.targets))
	for k, t := range m.targets {
		if !now.Before(t.next) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		var in time.Time
		if m.h.LastInbound != nil {
			in = m.h.LastInbound(k) // outside the lock: it asks the dataplane
		}
		m.mu.Lock()
		t, ok := m.targets[k]
		if !ok || now.Before(t.next) {
			m.mu.Unlock()
			continue
		}
		t.next = now.Add(t.cfg.Interval)
		verifying := t.cfg.Verify && t.st.State == Verifying
		if t.cfg.Optimized && !verifying && !t.probedAt.IsZero() && in.After(t.probedAt) {
			// Traffic came in during the interval: the path works.
			t.waiting, t.st.Failures, t.probedAt = false, 0, now
			if t.st.State != Up {
				t.st.State = Up
				ups = append(ups, k)
			}
			m.mu.Unlock()
			continue
		}
		if t.waiting {
			t.st.Failures++
			if t.st.Failures >= t.cfg.Threshold && t.st.State != Down {
				t.st.State = Down
				downs, downSt = append(downs, k), append(downSt, t.st)
			}
		}
		t.seq++
		t.waiting, t.probedAt = true, now
		t.st.Sent++
		out = append(out, echo{t.cfg.Src, t.cfg.Dst, t.cfg.Dev, t.id, t.seq})
		m.mu.Unlock()
	}
	for i, k := range downs {
		if m.h.Down != nil {
			m.h.Down(k, downSt[i])
		}
	}
	for _, k := range ups {
		if m.h.Up != nil {
			m.h.Up(k)
		}
	}
	for _, e := range out {
		// A send error (no route yet) is an echo that goes
		// unanswered: it counts at the end of the interval.
		_ = m.p.Echo(e.src, e.dst, e.dev, e.id, e.seq)
	}
}

// Reply takes an echo reply with identifier id and sequence number seq:
// the answer to the outstanding echo of a child SA resets its failures
// and brings it up. Anything else (a late or foreign reply) is ignored.
func (m *Monitor) Reply(id, seq uint16) {
	m.mu.Lock()
	k, ok := m.byID[id]
	t := m.targets[k]
	if !ok || t == nil || !t.waiting || t.seq != seq {
		m.mu.Unlock()
		return
	}
	t.waiting, t.st.Failures = false, 0
	t.st.Answered++
	up := t.st.State != Up
	t.st.State = Up
	m.mu.Unlock()
	if up && m.h.Up != nil {
		m.h.Up(k)
	}
}

// Prober returns the Prober the monitor sends through.
func (m *Monitor) Prober() Prober { return m.p }
