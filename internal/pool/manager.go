package pool

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// ErrExhausted is wrapped by Acquire when no pool of the list has an
// address of the family left (RFC 7296 §3.10.1 INTERNAL_ADDRESS_FAILURE).
var ErrExhausted = errors.New("pool: no address left")

// Event tells the manager's OnLease hook that a lease was made (Leased) or
// lost: the hooks through which HA keeps its peer's pools in step.
type Event struct {
	Pool, Identity string
	Addr           netip.Addr
	Leased         bool
	// HA: the pool is an ha pool, whose leases the HA peer mirrors.
	HA bool
}

// Options configure a Manager.
type Options struct {
	// Path is the lease file; empty keeps the leases in memory only.
	Path string
	// Logger receives the records of the pools (subsystem ike).
	Logger *slog.Logger
	// OnLease, if set, is told of every lease made or lost. It is
	// called with the manager's lock held: it must not block or call
	// the Manager.
	OnLease func(Event)
	// SyncInterval is how often appended records are fsynced; 0 means
	// one second. A crash of the process loses nothing (the records are
	// written at once); a crash of the machine loses at most the
	// records of the last interval, which only costs those peers their
	// old address at the next connection.
	SyncInterval time.Duration
}

// Lease is an address Acquire gave, with its pool's attributes.
type Lease struct {
	Pool string
	Addr netip.Addr
	// Reused: the identity had this address already.
	Reused bool
	Attributes
}

// Manager owns the pools of a vrf and their lease file. It is safe for
// concurrent use; every method takes its one lock for O(1) work, but Set
// and Open, which read or rewrite the whole file.
type Manager struct {
	o       Options
	mu      sync.Mutex
	pools   map[string]*pool
	pending []Record // read from the file, until the first Set
	f       *os.File
	dirty   bool
	stop    chan struct{}
	done    chan struct{}
	// exhausted counts the requests each pool could not serve.
	exhausted map[string]uint64
	buf       []byte
	// appended counts the records appended since the last rewrite:
	// past twice the leases (and a floor), the file is rewritten, so
	// that reconnections without commits do not grow it for ever.
	appended int
}

// maxIdentity bounds the identities kept as they are: an IKE identity
// may be up to 64 KiB (a KEY_ID shown in hex twice that), more than a
// lease record holds and more than a state listing wants.
const maxIdentity = 512

// leaseKey is the identity a lease is kept under: the identity itself,
// or for a longer one "sha256:" and its SHA-256 in hex (still one key per
// identity).
func leaseKey(identity string) string {
	if len(identity) <= maxIdentity {
		return identity
	}
	h := sha256.Sum256([]byte(identity))
	return "sha256:" + hex.EncodeToString(h[:])
}

// Open reads the lease file (if any) and returns a Manager with no pools:
// the leases read are adopted by the pools of the first Set.
func Open(o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = time.Second
	}
	m := &Manager{o: o, pools: map[string]*pool{}, exhausted: map[string]uint64{}}
	if o.Path == "" {
		return m, nil
	}
	b, err := os.ReadFile(o.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("pool: %w", err)
	default:
		recs, valid, err := DecodeLeases(b)
		if err != nil {
			return nil, fmt.Errorf("pool: %s: %w", o.Path, err)
		}
		if valid < len(b) {
			o.Logger.Warn("pool: lease file ends with a torn record: dropped", "file", o.Path, "octets", len(b)-valid)
		}
		m.pending = recs
	}
	m.mu.Lock()
	err = m.rewrite()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go m.syncLoop()
	return m, nil
}

// syncLoop fsyncs the appended records every SyncInterval.
func (m *Manager) syncLoop() {
	defer close(m.done)
	t := time.NewTicker(m.o.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			if m.dirty && m.f != nil {
				if err := m.f.Sync(); err != nil {
					m.o.Logger.Warn("pool: cannot sync the lease file", "err", err)
				}
				m.dirty = false
			}
			m.mu.Unlock()
		}
	}
}

// Close syncs and closes the lease file.
func (m *Manager) Close() error {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil {
		return nil
	}
	err := m.f.Sync()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	return err
}

// Set installs the configured pools. A pool whose addresses did not
// change keeps its leases as they are; one whose addresses changed keeps
// the leases of the addresses it still has; a pool removed loses its
// leases. The lease file is then rewritten with the current leases.
func (m *Manager) Set(cfgs []Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[string]*pool, len(cfgs))
	for _, c := range cfgs {
		old := m.pools[c.Name]
		if old != nil && equalRanges(old.cfg.Ranges, c.Ranges) {
			old.cfg = c
			next[c.Name] = old
			continue
		}
		p := newPool(c)
		if old != nil {
			for _, l := range old.ordered() {
				if p.contains(l.addr) {
					p.add(l.identity, l.addr, l.holders)
				} else {
					m.lost(p, l.identity, l.addr)
				}
			}
		}
		next[c.Name] = p
	}
	for name, old := range m.pools {
		if next[name] == nil {
			for _, l := range old.ordered() {
				m.lost(old, l.identity, l.addr)
			}
		}
	}
	for _, r := range m.pending {
		if p := next[r.Pool]; p != nil && p.contains(r.Addr) {
			p.add(r.Identity, r.Addr, 0)
		}
	}
	m.pending = nil
	m.pools = next
	return m.rewrite()
}

func (m *Manager) lost(p *pool, identity string, a netip.Addr) {
	if m.o.OnLease != nil {
		m.o.OnLease(Event{Pool: p.cfg.Name, Identity: identity, Addr: a, HA: p.cfg.HA})
	}
}

// ordered returns the pool's leases, the released ones first, oldest
// first, then the held ones: the order in which replaying them rebuilds
// the released list.
func (p *pool) ordered() []*lease {
	var out []*lease
	for i := range p.fam {
		for l := p.fam[i].head; l != nil; l = l.next {
			out = append(out, l)
		}
	}
	var held []*lease
	for _, l := range p.byAddr {
		if l.holders > 0 {
			held = append(held, l)
		}
	}
	slices.SortFunc(held, func(a, b *lease) int { return a.addr.Compare(b.addr) })
	return append(out, held...)
}

// rewrite replaces the lease file by one holding the current leases
// (and those read and not yet adopted), crash-safely: a temporary file
// written and fsynced, renamed over the old one, the directory fsynced.
func (m *Manager) rewrite() error {
	if m.o.Path == "" {
		return nil
	}
	b := []byte(leaseMagic)
	for _, r := range m.pending {
		b = AppendRecord(b, r)
	}
	names := make([]string, 0, len(m.pools))
	for n := range m.pools {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, l := range m.pools[n].ordered() {
			b = AppendRecord(b, Record{Pool: n, Identity: l.identity, Addr: l.addr})
		}
	}
	dir := filepath.Dir(m.o.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".leases-*")
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), m.o.Path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("pool: writing the lease file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	if m.f != nil {
		m.f.Close()
	}
	if m.f, err = os.OpenFile(m.o.Path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	m.dirty, m.appended = false, 0
	return nil
}

// compactAfter is the floor of appended records before a rewrite.
const compactAfter = 4096

// appendRecord appends one record to the lease file.
func (m *Manager) appendRecord(r Record) {
	if m.f == nil {
		return
	}
	m.buf = AppendRecord(m.buf[:0], r)
	if _, err := m.f.Write(m.buf); err != nil {
		m.o.Logger.Warn("pool: cannot append to the lease file", "err", err)
		return
	}
	m.dirty = true
	if m.appended++; m.appended > compactAfter && m.appended > 2*m.leaseCount() {
		// Amortized O(1): a rewrite of n leases after at least 2n
		// appends.
		if err := m.rewrite(); err != nil {
			m.o.Logger.Warn("pool: cannot compact the lease file", "err", err)
		}
	}
}

// leaseCount is the number of leases of all pools.
func (m *Manager) leaseCount() int {
	n := len(m.pending)
	for _, p := range m.pools {
		n += len(p.byAddr)
	}
	return n
}

// Acquire gives identity an address of the family (IPv6 when v6) from
// the pools named, in order, and counts one more holder of it: the
// address identity already has in one of them if any, else the first
// pool's with a never leased address, else the first pool's with a
// reserved lease to take back. Names of pools that do not exist are
// skipped. When none has an address, the error wraps ErrExhausted.
func (m *Manager) Acquire(pools []string, identity string, v6 bool) (Lease, error) {
	identity = leaseKey(identity)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range pools {
		if p := m.pools[n]; p != nil {
			if a, ok := p.own(identity, v6); ok {
				if p.byAddr[a].holders == 1 {
					m.appendRecord(Record{Pool: n, Identity: identity, Addr: a}) // its recency
				}
				return Lease{Pool: n, Addr: a, Reused: true, Attributes: p.cfg.Attributes}, nil
			}
		}
	}
	for _, reclaim := range []bool{false, true} {
		for _, n := range pools {
			p := m.pools[n]
			if p == nil {
				continue
			}
			a, lost, ok := p.take(identity, v6, reclaim)
			if !ok {
				continue
			}
			if lost != "" {
				m.o.Logger.Info("pool: address taken back from a released lease", "pool", n, "address", a, "from", lost)
				m.lost(p, lost, a)
			}
			m.appendRecord(Record{Pool: n, Identity: identity, Addr: a})
			if m.o.OnLease != nil {
				m.o.OnLease(Event{Pool: n, Identity: identity, Addr: a, Leased: true, HA: p.cfg.HA})
			}
			return Lease{Pool: n, Addr: a, Attributes: p.cfg.Attributes}, nil
		}
	}
	fam := "IPv4"
	if v6 {
		fam = "IPv6"
	}
	for _, n := range pools {
		if m.pools[n] != nil {
			m.exhausted[n]++
		}
	}
	return Lease{}, fmt.Errorf("%w: no %s address in pools %v", ErrExhausted, fam, pools)
}

// Release drops one holder of identity's lease of addr in pool; with none
// left the address stays reserved for identity (see the package comment).
func (m *Manager) Release(pool, identity string, addr netip.Addr) {
	identity = leaseKey(identity)
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.pools[pool]; p != nil {
		p.release(identity, addr)
	}
}

// Inject records a lease made elsewhere (by the HA peer): identity holds
// addr of pool, reserved (no IKE SA of ours holds it). It reports false
// when the pool does not exist, does not have the address, or one of our
// IKE SAs holds it for another identity.
func (m *Manager) Inject(pool, identity string, addr netip.Addr) bool {
	identity = leaseKey(identity)
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pools[pool]
	if p == nil || !p.contains(addr) {
		return false
	}
	if l := p.byAddr[addr]; l != nil && (l.holders > 0 || l.identity == identity) {
		return l.identity == identity
	}
	if l := p.find(identity, addr.Is6()); l != nil && l.holders > 0 {
		return false
	}
	p.add(identity, addr, 0)
	m.appendRecord(Record{Pool: pool, Identity: identity, Addr: addr})
	return true
}
