// Package userspace is the userspace ESP dataplane: a dataplane.Dataplane
// that protects traffic read from a TUN device with RFC 4303 ESP in UDP
// (RFC 3948) and writes decrypted traffic back to it. It is what the
// daemon uses when the kernel has no ESP.
//
// Packet paths (RFC 4301 §5):
//
//   - Outbound: a reader per TUN queue reads a packet into a buffer with
//     headroom (from a TUN with offloads, edge.BatchDevice, a batch of
//     packets cut from one TCP super-segment, whose ESP datagrams then go
//     out in one Bind.Send), looks it up in the SPD (ordered by priority, then by the
//     most specific selector), finds the newest SA of the policy's
//     template (or raises an Acquire event for a trap policy), checks
//     the path MTU (ICMP Fragmentation Needed / Packet Too Big back into
//     the TUN when the inner packet may not be fragmented), seals it in
//     place and sends it from the SA's local address and port.
//   - Inbound: readers per UDP socket take batches (recvmmsg); datagrams
//     with the Non-ESP Marker go to Options.OnIKE, keepalives are dropped,
//     ESP is matched to its SA by SPI, opened in place (the replay window
//     is checked before and updated after the ICV), checked against the
//     selectors of the SA's inbound policies (RFC 4301 §5.2) and written
//     to the TUN. A TUN with offloads (edge.CoalescingDevice) merges the
//     consecutive TCP segments of a flow within a batch into one
//     super-segment write (GRO-style, edge/gro.go); the batch's end
//     flushes it.
//
// When the IKE engine owns the port-4500 socket, its reader hands ESP to
// HandleESP (the udpconn.Options.OnESP hook), or with batched reads to
// HandleESPBatched and FlushESP at the end of each batch, and the
// dataplane only sends through its Bind. With Options.InboundWorkers the
// batched ESP is opened by workers chosen by SPI, each writing into its
// own TUN queue (inworkers.go), so that the SAs of one socket spread over
// the CPUs while each SA keeps its order.
//
// The SAD and SPD are immutable tables swapped atomically by Apply, so the
// packet paths take no lock; per-SA counters are atomic. Nothing on the
// packet paths allocates.
//
// The tables scale to 100k tunnels (tables.go, pmap.go, spd.go): each map,
// primary or derived, is a persistent hash trie, so an Apply copies only
// the paths to the entries its ops touch (a few nodes of at most 32
// slots, log32 of the size: four at 100k) and updates the derived indexes
// per op; installing a child costs about the same with 10 or 100,000
// installed (BenchmarkApplyInstall). The outbound SPD, and the inbound
// one that drop policies need, hash their policies by prefix lengths and
// prefixes, so a lookup probes one bucket per combination of prefix
// lengths in use instead of scanning the SPD; the first match is the one
// the ordered SPD would give. Persistence was chosen over a mutable index
// under a sync.RWMutex: readers stay wait-free (one atomic load, never
// blocked behind an Apply, no shared reader count bouncing between
// cores), a batch stays all-or-nothing for them with no extra work, and
// the packet paths did not have to learn to hold a lock per batch.
package userspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/edge"
	"secgw/internal/esp"
	"secgw/internal/logging/loglimit"
)

// Options configures a Dataplane.
type Options struct {
	// TUN are the queues of the TUN device; each gets a reader.
	TUN []edge.Device
	// Bind carries ESP in UDP.
	Bind edge.Bind
	// MTU is the path MTU of the outer packets; 0 means 1500.
	MTU int
	// OnIKE receives the datagrams of the Bind that are not ESP: IKE
	// behind the Non-ESP Marker (RFC 3948 §2.2). data is valid only during
	// the call. Without it they are dropped.
	OnIKE func(local, remote netip.AddrPort, data []byte)
	// Batch is the number of datagrams per receive call; 0 means 32.
	Batch int
	// Readers is the number of goroutines per receive function; 0 means
	// one per CPU.
	Readers int
	// InboundWorkers is the number of goroutines that open the ESP given
	// to HandleESPBatched, each the SAs whose SPI hashes to it and each
	// writing into a TUN queue of its own; 0 or 1: the caller's reader
	// opens it itself.
	InboundWorkers int
	// AcquireInterval is how long a trap policy stays quiet after an
	// Acquire; 0 means 1 s.
	AcquireInterval time.Duration
	// Tick is the period of the lifetime check; 0 means 1 s.
	Tick time.Duration
	// Events is the capacity of the event queue; 0 means 1024. Events
	// beyond it are dropped and counted.
	Events int
	Logger *slog.Logger
}

// Dataplane is the userspace ESP dataplane.
type Dataplane struct {
	o   Options
	log *slog.Logger

	tables atomic.Pointer[tables]
	mu     sync.Mutex // serializes table writers (Apply, expiry) and guards reserved, nextSeq, deadlines
	// deadlines are the SAs of the live tables with a time limit to
	// fire, by due time (deadlines.go).
	deadlines *deadlines
	// reserved holds SPIs handed out by AllocSPI and not yet installed.
	reserved map[uint32]time.Time
	nextSeq  uint64

	events   chan dataplane.Event
	in       *inWorkers // nil: HandleESPBatched opens in the caller
	stats    stats
	limit    *loglimit.Limiter // the records the packet paths repeat
	bufs     sync.Pool         // *buffer, for HandleESP
	done     chan struct{}
	wg       sync.WaitGroup
	closeErr error
	closed   sync.Once
	evMu     sync.RWMutex // held for writing when events is closed
	evClosed bool

	// spiEvents bounds the unknown-SPI events (spievents.go).
	spiEvents spiEventLimit
}

var _ dataplane.Dataplane = (*Dataplane)(nil)

// headroom is the space before an inner packet in a buffer: ESP scratch,
// header and IV (Seal writes them in front of the payload).
const headroom = 128

// bufSize holds the largest packet with headroom and ESP trailer.
const bufSize = headroom + 65535 + esp.MaxTrailer

// buffer is one packet buffer with its scratch for ICMP errors.
type buffer struct {
	b    [bufSize]byte
	icmp [icmp6ErrorMax]byte
	ds   [1]edge.Datagram
}

// New starts a dataplane on o's TUN queues and Bind.
func New(o Options) (*Dataplane, error) {
	if len(o.TUN) == 0 || o.Bind == nil {
		return nil, errors.New("userspace: a TUN device and a Bind are needed")
	}
	if o.MTU == 0 {
		o.MTU = 1500
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.Readers <= 0 {
		o.Readers = runtime.NumCPU()
	}
	if o.AcquireInterval <= 0 {
		o.AcquireInterval = time.Second
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Events <= 0 {
		o.Events = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dataplane{
		o:         o,
		log:       o.Logger.With("subsystem", "ipsec"),
		limit:     loglimit.NewLimiter(0, 0),
		reserved:  map[uint32]time.Time{},
		deadlines: newDeadlines(time.Now()),
		events:    make(chan dataplane.Event, o.Events),
		done:      make(chan struct{}),
	}
	d.bufs.New = func() any { return new(buffer) }
	d.tables.Store(newTables())
	for _, dev := range o.TUN {
		d.wg.Add(1)
		go d.readTUN(dev)
	}
	if o.InboundWorkers > 1 {
		d.in = d.startInWorkers(o.InboundWorkers)
	}
	if gb, ok := o.Bind.(interface{ EnableGRO() bool }); ok {
		// readUDP's buffers hold 65535 octets: runs of ESP sent with
		// UDP GSO arrive in one piece.
		gb.EnableGRO()
	}
	for _, rf := range o.Bind.ReceiveFuncs() {
		for range o.Readers {
			d.wg.Add(1)
			go d.readUDP(rf)
		}
	}
	d.wg.Add(1)
	go d.expiry()
	workers := 0 // the readers open inbound ESP themselves
	if d.in != nil {
		workers = len(d.in.workers)
	}
	d.log.Info("userspace ESP dataplane started", "tun-queues", len(o.TUN), "mtu", o.MTU,
		"inbound-workers", workers)
	return d, nil
}

// Kind implements dataplane.Dataplane.
func (d *Dataplane) Kind() string { return "userspace" }

// Apply implements dataplane.Dataplane: the batch is applied to a new
// version of the tables, which replaces the live one at once, up to the
// failing op. It costs what the ops touch (see tables), whatever is
// installed.
func (d *Dataplane) Apply(ctx context.Context, ops []dataplane.Op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("userspace: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.done:
		return errors.New("userspace: dataplane closed")
	default:
	}
	t := *d.tables.Load()
	e := &edit{deadlines: d.deadlines}
	now := time.Now()
	var err error
	for i, op := range ops {
		d.nextSeq++
		if err = t.apply(e, op, now, d.nextSeq); err != nil {
			err = &dataplane.ApplyError{Index: i, Op: op, Err: err}
			break
		}
		if op.SA != nil && op.Kind != dataplane.DeleteSA {
			delete(d.reserved, op.SA.SPI)
		}
	}
	d.tables.Store(&t)
	return err
}

// List implements dataplane.Dataplane. The SAs are copies with their keys.
func (d *Dataplane) List(ctx context.Context) (dataplane.State, error) {
	t := d.tables.Load()
	var st dataplane.State
	for _, s := range t.sas.all() {
		st.SAs = append(st.SAs, cloneSA(&s.cfg))
	}
	for _, p := range t.policies.all() {
		st.Policies = append(st.Policies, p.cfg)
	}
	return st, nil
}

// Counters implements dataplane.Dataplane.
func (d *Dataplane) Counters(ctx context.Context, k dataplane.SAKey) (dataplane.Counters, error) {
	s, _ := d.tables.Load().sas.get(k)
	if s == nil {
		return dataplane.Counters{}, fmt.Errorf("userspace: no SA %s", k)
	}
	return s.counters(), nil
}

// SeqStates implements dataplane.Dataplane: it walks one version of the
// SAD (an atomic load: no lock against Apply or the packet paths) and
// reads each SA's numbers as the packets move them; an SA installed or
// removed by a concurrent Apply may be missing or listed.
func (d *Dataplane) SeqStates(ctx context.Context) ([]dataplane.SeqState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("userspace: %w", err)
	}
	t := d.tables.Load()
	out := make([]dataplane.SeqState, 0, t.sas.len())
	for k, s := range t.sas.all() {
		out = append(out, s.seqState(k))
	}
	return out, nil
}

// spiReservation is how long an SPI from AllocSPI stays reserved without
// an SA (the kernel's larval SAs live as long).
const spiReservation = time.Minute

// AllocSPI implements dataplane.Dataplane: a random SPI above 255 (1-255
// are reserved, RFC 4303 §2.1) that no inbound SA or reservation holds.
func (d *Dataplane) AllocSPI(ctx context.Context, src, dst netip.Addr, reqID uint32) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.tables.Load()
	for range 1000 {
		spi := rand.Uint32()
		if _, used := t.bySPI.get(spi); spi < 256 || used {
			continue
		}
		if _, taken := d.reserved[spi]; taken {
			continue
		}
		d.reserved[spi] = time.Now()
		return spi, nil
	}
	return 0, errors.New("userspace: no free SPI")
}

// Events implements dataplane.Dataplane.
func (d *Dataplane) Events() <-chan dataplane.Event { return d.events }

// Close stops the readers, closes the TUN queues and the Bind, and
// closes the event channel.
func (d *Dataplane) Close() error {
	d.closed.Do(func() {
		d.mu.Lock()
		close(d.done)
		d.mu.Unlock()
		var errs []error
		for _, dev := range d.o.TUN {
			errs = append(errs, dev.Close())
		}
		errs = append(errs, d.o.Bind.Close())
		d.wg.Wait()
		d.evMu.Lock()
		d.evClosed = true
		close(d.events)
		d.evMu.Unlock()
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

// emit queues an event without blocking the packet path.
func (d *Dataplane) emit(ev dataplane.Event) {
	d.evMu.RLock()
	defer d.evMu.RUnlock()
	if d.evClosed {
		return
	}
	select {
	case d.events <- ev:
	default:
		d.stats.eventsDropped.Add(1)
	}
}

// removeSA takes a hard-expired SA out of the tables (the kernel deletes
// it too) and reports it.
func (d *Dataplane) removeSA(s *sa, reason string) {
	d.mu.Lock()
	if cur, _ := d.tables.Load().sas.get(s.cfg.Key()); cur == s {
		t := *d.tables.Load()
		t.delSA(&edit{deadlines: d.deadlines}, s)
		d.tables.Store(&t)
	}
	d.mu.Unlock()
	d.emit(dataplane.Event{Kind: dataplane.HardExpire, SA: s.cfg.Key(), Reason: reason})
}

// expiry runs the time limits each Tick and forgets old SPI
// reservations.
func (d *Dataplane) expiry() {
	defer d.wg.Done()
	tick := time.NewTicker(d.o.Tick)
	defer tick.Stop()
	var evs []dataplane.Event
	for {
		select {
		case <-d.done:
			return
		case now := <-tick.C:
			evs = d.expire(now, evs[:0])
		}
	}
}

// expire fires the time limits due at now: the SAs a hard limit ended
// leave the tables in one new version, then the events are raised. Its
// work is the SAs due (deadlines.go), not the SAD. evs is reused for
// the events, which it returns.
func (d *Dataplane) expire(now time.Time, evs []dataplane.Event) []dataplane.Event {
	d.mu.Lock()
	evs, hard := d.deadlines.expired(now, evs)
	if len(hard) > 0 {
		t := *d.tables.Load()
		e := &edit{deadlines: d.deadlines}
		for _, s := range hard {
			if cur, _ := t.sas.get(s.cfg.Key()); cur == s {
				t.delSA(e, s)
			}
		}
		d.tables.Store(&t)
	}
	for spi, at := range d.reserved {
		if now.Sub(at) > spiReservation {
			delete(d.reserved, spi)
		}
	}
	d.mu.Unlock()
	for _, ev := range evs {
		d.emit(ev)
	}
	return evs
}
