package ha

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// fakeEngine is the engine side of a node in tests: the SAs it holds by
// SPIs, its role, and what the last takeover was given.
type fakeEngine struct {
	mu     sync.Mutex
	sas    map[saID][]byte
	active bool
	roles  []bool
	// seqs and shift are what the last SetRole(true) was given.
	seqs  func(SeqKey) (Seq, bool)
	shift uint64
	// passivating, if set, is what SetRole(false) waits on (a teardown
	// of many SAs), outside mu.
	passivating chan struct{}
}

func newFakeEngine() *fakeEngine { return &fakeEngine{sas: map[saID][]byte{}, active: true} }

func (e *fakeEngine) Snapshot(fn func(spiI, spiR uint64, rec []byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, rec := range e.sas {
		fn(id.i, id.r, rec)
	}
}

// Import takes records "i r payload"; "bad" is refused.
func (e *fakeEngine) Import(rec []byte) error {
	var i, r uint64
	var p string
	if _, err := fmt.Sscanf(string(rec), "%d %d %s", &i, &r, &p); err != nil || p == "bad" {
		return fmt.Errorf("fake: bad record %q", rec)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sas[saID{i, r}] = append([]byte(nil), rec...)
	return nil
}

func (e *fakeEngine) Remove(spiI, spiR uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.sas, saID{spiI, spiR})
}

func (e *fakeEngine) SetRole(active bool, seqs func(SeqKey) (Seq, bool), shift uint64) error {
	e.mu.Lock()
	wait := e.passivating
	e.mu.Unlock()
	if !active && wait != nil {
		<-wait
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.active = active
	e.roles = append(e.roles, active)
	if active {
		e.seqs, e.shift = seqs, shift
	}
	return nil
}

// put adds or changes an SA on the active side and tells the sink, as the
// engine does after each change.
func (e *fakeEngine) put(n *Node, i, r uint64, payload string) {
	rec := []byte(fmt.Sprintf("%d %d %s", i, r, payload))
	e.mu.Lock()
	e.sas[saID{i, r}] = rec
	e.mu.Unlock()
	n.SAUpdate(i, r, rec)
}

func (e *fakeEngine) del(n *Node, i, r uint64) {
	e.Remove(i, r)
	n.SADelete(i, r)
}

// list renders the SAs held, sorted.
func (e *fakeEngine) list() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, rec := range e.sas {
		out = append(out, string(rec))
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}

func (e *fakeEngine) isActive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active
}

// fakeSeqs is a SeqSource the test sets.
type fakeSeqs struct {
	mu      sync.Mutex
	entries map[SeqKey]SeqEntry
	reads   int
}

func newFakeSeqs() *fakeSeqs { return &fakeSeqs{entries: map[SeqKey]SeqEntry{}} }

func (s *fakeSeqs) Seqs(context.Context) ([]SeqEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	out := make([]SeqEntry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	return out, nil
}

func (s *fakeSeqs) set(e SeqEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[e.Key] = e
}

func (s *fakeSeqs) drop(k SeqKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, k)
}

// fakeLeases is a LeaseStore: the leases of HA pools by address, those an
// IKE SA holds marked held (RetainLeases keeps them), and the pools it has.
type fakeLeases struct {
	mu     sync.Mutex
	pools  map[string]bool
	leases map[Lease]bool // lease → held
}

func newFakeLeases(pools ...string) *fakeLeases {
	f := &fakeLeases{pools: map[string]bool{}, leases: map[Lease]bool{}}
	for _, p := range pools {
		f.pools[p] = true
	}
	return f
}

func (f *fakeLeases) LeaseSnapshot(fn func(Lease)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for l := range f.leases {
		fn(l)
	}
}

func (f *fakeLeases) ApplyLease(l Lease) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.pools[l.Pool] {
		return false
	}
	for o := range f.leases { // an address or an identity has one lease
		if o.Pool == l.Pool && (o.Addr == l.Addr || o.Identity == l.Identity) && o != l {
			delete(f.leases, o)
		}
	}
	f.leases[l] = f.leases[l]
	return true
}

func (f *fakeLeases) RetainLeases(keep func(Lease) bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for l, held := range f.leases {
		if !held && !keep(l) {
			delete(f.leases, l)
			n++
		}
	}
	return n
}

// make records a lease held by an IKE SA and tells the node, as the pool
// manager's hook does.
func (f *fakeLeases) make(n *Node, l Lease) {
	f.mu.Lock()
	f.leases[l] = true
	f.mu.Unlock()
	n.LeaseMade(l)
}

// list renders the leases, sorted.
func (f *fakeLeases) list() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for l, held := range f.leases {
		s := l.Pool + " " + l.Addr.String() + " " + l.Identity
		if held {
			s += " held"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
