package loadtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/wire"
)

// Options configures a Generator.
type Options struct {
	// Remote is the responder's IKE address and port (500).
	Remote netip.AddrPort
	// Sources are the local addresses the tunnels come from, each with
	// SocketsPerAddr sockets on ephemeral ports; tunnel i uses socket i
	// modulo their number. The addresses must be configured locally.
	Sources        []netip.Addr
	SocketsPerAddr int
	// Count is the number of tunnels to establish.
	Count int
	// Rate is the target of tunnel starts per second; 0 starts them as
	// fast as Concurrency allows.
	Rate float64
	// Concurrency bounds the tunnels in flight (started, not finished).
	Concurrency int
	Profile     Profile
	// Timeout is the first retransmission timeout, doubled at each try;
	// Tries is the number of transmissions of a request before the
	// tunnel fails (RFC 7296 §2.1).
	Timeout time.Duration
	Tries   int
	// Hold keeps the established SAs for this long after the last setup,
	// answering the responder's requests; Liveness, if set, also sends a
	// liveness check (RFC 7296 §1.4) on each held SA at that interval.
	Hold     time.Duration
	Liveness time.Duration
	// IKERekey, during Hold, rekeys each held IKE SA (RFC 7296 §1.3.2,
	// ikerekey.go) this long after it was set up or last rekeyed, then
	// deletes the old one; 0 never.
	IKERekey time.Duration
	// Flood, with a Rate, sends half-open IKE_SA_INIT requests during the
	// run (flood.go).
	Flood FloodOptions
	// Progress, if set, receives a line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Rand is the source of SPIs, nonces and keys; nil means crypto/rand.
	Rand io.Reader
}

// floodDrain is how long the flood's answers are awaited after its last
// request: a few round trips on a local link.
const floodDrain = 200 * time.Millisecond

// socket is one local UDP socket of the generator.
type socket struct {
	conn  *net.UDPConn
	local netip.AddrPort
}

// Generator initiates tunnels towards one responder (see the package
// comment). Create it with New, run it once with Run.
type Generator struct {
	o     Options
	rand  io.Reader
	socks []*socket
	table table
	rec   *Recorder

	// sem holds a token per tunnel in flight.
	sem  chan struct{}
	done chan struct{} // closed when every tunnel has an outcome

	started, outcomes atomic.Int64
	lastOutcome       atomic.Int64 // unix nanoseconds
	sendErrors        atomic.Int64
	closed            atomic.Bool

	soak soakCounters
	held heldList
	// mark is when Mark was called (unix nanoseconds), 0 before.
	mark  atomic.Int64
	flood *flooder

	readers sync.WaitGroup

	// vips are the virtual IPs of the established tunnels, by index
	// (Profile.VIP); vmu guards it.
	vmu  sync.Mutex
	vips []netip.Addr
}

// VIPs returns the virtual IP each tunnel got, by tunnel index (invalid
// for a tunnel that failed), once Run returned; nil without Profile.VIP.
func (g *Generator) VIPs() []netip.Addr {
	g.vmu.Lock()
	defer g.vmu.Unlock()
	return g.vips
}

// New checks o, fills in defaults and binds the sockets.
func New(o Options) (*Generator, error) {
	if !o.Remote.IsValid() {
		return nil, errors.New("loadtest: no responder address")
	}
	if len(o.Sources) == 0 {
		return nil, errors.New("loadtest: no source address")
	}
	if o.Count < 0 {
		return nil, errors.New("loadtest: negative tunnel count")
	}
	if o.SocketsPerAddr <= 0 {
		o.SocketsPerAddr = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 128
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Tries <= 0 {
		o.Tries = 4
	}
	if len(o.Profile.PSK) == 0 || o.Profile.IDFormat == "" || !o.Profile.Inner.IsValid() || !o.Profile.RemoteTS.IsValid() {
		return nil, errors.New("loadtest: incomplete profile (PSK, identity format, inner prefix, remote selector)")
	}
	if _, err := o.Profile.identity(0); err != nil {
		return nil, err
	}
	g := &Generator{o: o, rand: o.Rand, rec: NewRecorder(o.Count),
		sem: make(chan struct{}, o.Concurrency), done: make(chan struct{})}
	if g.rand == nil {
		g.rand = rand.Reader
	}
	g.table.init()
	socks, err := listen(o.Sources, o.SocketsPerAddr)
	if err != nil {
		return nil, err
	}
	g.socks = socks
	if o.Flood.Rate > 0 {
		if g.flood, err = newFlooder(o.Flood, o.Sources, o.Remote, &g.o.Profile); err != nil {
			g.closeSockets()
			return nil, err
		}
	}
	if o.Count == 0 {
		close(g.done)
	}
	return g, nil
}

// listen binds per sockets on ephemeral ports to each address.
func listen(addrs []netip.Addr, per int) ([]*socket, error) {
	var out []*socket
	for _, a := range addrs {
		for range per {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.Unmap(), 0)))
			if err != nil {
				for _, s := range out {
					s.conn.Close()
				}
				return nil, fmt.Errorf("loadtest: binding %v: %w", a, err)
			}
			// Bursts of responses must not overflow the default buffers
			// (the kernel caps the request at rmem_max / wmem_max).
			c.SetReadBuffer(4 << 20)
			c.SetWriteBuffer(4 << 20)
			ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
			out = append(out, &socket{conn: c, local: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
		}
	}
	return out, nil
}

// Sockets returns the number of bound sockets.
func (g *Generator) Sockets() int { return len(g.socks) }

// Run establishes the tunnels, holds them for the soak and runs the
// flood, then closes the sockets and returns the report. Cancelling ctx
// ends the run early with what was measured so far.
func (g *Generator) Run(ctx context.Context) *Report {
	cpu0 := selfCPU()
	for _, s := range g.socks {
		g.readers.Add(1)
		go g.read(s)
	}
	t0 := time.Now()
	g.lastOutcome.Store(t0.UnixNano())
	floodDone := make(chan struct{})
	floodCtx, stopFlood := context.WithCancel(ctx)
	defer stopFlood()
	if g.flood != nil {
		go func() { g.flood.run(floodCtx); close(floodDone) }()
	} else {
		close(floodDone)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go g.startLoop(runCtx)
	if g.o.Progress != nil && g.o.ProgressEvery > 0 {
		go g.progress(runCtx, t0)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
	}
	rep := g.rec.Report(int(g.started.Load()), time.Duration(g.lastOutcome.Load()-t0.UnixNano()))
	if g.o.Hold > 0 {
		rep.Soak = g.runSoak(ctx)
	}
	if g.flood != nil {
		if g.flood.o.Duration == 0 && g.o.Count == 0 && g.o.Hold == 0 {
			<-ctx.Done() // a flood alone runs until interrupted
		}
		if g.flood.o.Duration == 0 {
			stopFlood()
		}
		<-floodDone
		// Answers to the last requests are still on their way.
		time.Sleep(floodDrain)
		rep.Flood = g.flood.stats()
	}
	stopRun()
	g.closed.Store(true)
	g.closeSockets()
	g.readers.Wait()
	if g.flood != nil {
		g.flood.close()
	}
	rep.SendErrors = g.sendErrors.Load()
	rep.CPU = selfCPU() - cpu0
	rep.Target = fmt.Sprintf("secgw-loadtest: %d tunnels to %v from %d sockets on %d addresses, concurrency %d, %s",
		g.o.Count, g.o.Remote, len(g.socks), len(g.o.Sources), g.o.Concurrency, rateString(g.o.Rate))
	return rep
}

func rateString(r float64) string {
	if r <= 0 {
		return "rate unlimited"
	}
	return fmt.Sprintf("rate %.0f/s", r)
}

func (g *Generator) closeSockets() {
	for _, s := range g.socks {
		s.conn.Close()
	}
}

// startLoop starts the tunnels: a token of sem per tunnel in flight, the
// pacer for the rate, and one worker per CPU for the key generation.
func (g *Generator) startLoop(ctx context.Context) {
	workers := runtime.GOMAXPROCS(0)
	ch := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				g.start(i)
			}
		}()
	}
	defer func() { close(ch); wg.Wait() }()
	pacer := NewPacer(g.o.Rate, max(1, int(g.o.Rate/100)))
	for i := range g.o.Count {
		select {
		case g.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		if pacer.Wait(ctx) != nil {
			return
		}
		ch <- i
	}
}

// start creates tunnel i and sends its IKE_SA_INIT request.
func (g *Generator) start(i int) {
	sock := g.socks[i%len(g.socks)]
	g.started.Add(1)
	t, err := newTunnel(&g.o.Profile, i, sock.local, g.o.Remote, g.rand)
	var req []byte
	if err == nil {
		req, err = t.initRequest(&g.o.Profile)
	}
	if err != nil {
		g.rec.Failure("start: " + err.Error())
		g.outcome()
		return
	}
	t.sock = sock
	t.mu.Lock()
	defer t.mu.Unlock()
	g.table.put(t)
	t.start = time.Now()
	t.req = req
	g.send(t.sock, t.remote, req)
	g.arm(t)
}

func (g *Generator) send(s *socket, to netip.AddrPort, b []byte) {
	if _, err := s.conn.WriteToUDPAddrPort(b, to); err != nil {
		// A lost datagram: the retransmission covers it.
		g.sendErrors.Add(1)
	}
}

// arm sets the retransmission timer of t's outstanding request; t.mu is
// held. The timeout doubles at each try (RFC 7296 §2.1).
func (g *Generator) arm(t *tunnel) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.gen++
	gen := t.gen
	t.timer = time.AfterFunc(g.o.Timeout<<min(t.tries, 6), func() { g.expired(t, gen) })
}

// expired retransmits t's request or, after the last try, fails t.
func (g *Generator) expired(t *tunnel, gen int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen || t.phase >= phaseUp || g.closed.Load() {
		return
	}
	if t.tries+1 >= g.o.Tries {
		phase := "IKE_SA_INIT"
		switch t.phase {
		case phaseInter:
			phase = "IKE_INTERMEDIATE"
		case phaseAuth:
			phase = "IKE_AUTH"
		}
		g.finish(t, failf(phase, "timeout"))
		return
	}
	t.tries++
	g.send(t.sock, t.remote, t.req)
	g.arm(t)
}

// read is the reader goroutine of one socket.
func (g *Generator) read(s *socket) {
	defer g.readers.Done()
	buf := make([]byte, 65535)
	for {
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if g.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		g.dispatch(buf[:n])
	}
}

// dispatch hands a received message to its tunnel; wire.Parse copies it,
// so the read buffer can be reused.
func (g *Generator) dispatch(data []byte) {
	h, err := wire.ParseHeader(data)
	if err != nil {
		return
	}
	t := g.table.get(h.SPIi)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h.SPIi != t.spii {
		// The IKE SA a rekey replaced (ikerekey.go).
		if h.Flags.Response() {
			g.oldResponse(t, h)
		} else if o := t.old; o != nil && h.SPIi == o.spii {
			resp, deleted := o.request(h, data)
			if resp != nil {
				g.send(t.sock, t.remote, resp)
			}
			if deleted {
				g.soak.oldDeleted.Add(1)
				g.table.del(o.spii)
				t.old = nil
			}
		}
		return
	}
	if h.Flags.Response() {
		g.handleResponse(t, h, data)
	} else {
		g.handleRequest(t, h, data)
	}
}

// handleResponse advances t with a response; t.mu is held.
func (g *Generator) handleResponse(t *tunnel, h wire.Header, data []byte) {
	p := &g.o.Profile
	switch t.phase {
	case phaseInit:
		if h.Exchange != wire.ExchangeIKESAInit || h.MessageID != 0 {
			return
		}
		m, err := wire.Parse(data)
		if err != nil {
			return
		}
		next, restart, err := t.handleInitResponse(p, m)
		switch {
		case err == errDrop:
			return
		case err != nil:
			g.finish(t, err)
			return
		}
		switch {
		case restart:
		case len(p.AddKE) > 0:
			t.phase = phaseInter
		default:
			t.phase = phaseAuth
		}
		t.req, t.tries = next, 0
		g.send(t.sock, t.remote, next)
		g.arm(t)
	case phaseInter:
		if h.Exchange != wire.ExchangeIKEIntermediate || h.MessageID != t.mid || h.SPIr != t.spir {
			return
		}
		m, err := wire.Parse(data)
		if err != nil {
			return
		}
		next, auth, err := t.handleIntermediateResponse(p, m)
		switch {
		case err == errDrop:
			return
		case err != nil:
			g.finish(t, err)
			return
		}
		if auth {
			t.phase = phaseAuth
		}
		t.req, t.tries = next, 0
		g.send(t.sock, t.remote, next)
		g.arm(t)
	case phaseAuth:
		if h.Exchange != wire.ExchangeIKEAuth || h.MessageID != t.mid || h.SPIr != t.spir {
			return
		}
		m, err := wire.Parse(data)
		if err != nil {
			return
		}
		if err := t.handleAuthResponse(p, m); err != errDrop {
			g.finish(t, err)
		}
	case phaseUp:
		g.probeResponse(t, h, data)
	}
}

// finish records the outcome of t (err nil: established); t.mu is held.
func (g *Generator) finish(t *tunnel, err error) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.gen++
	latency := time.Since(t.start)
	if err == nil && t.vip.IsValid() {
		g.vmu.Lock()
		if g.vips == nil {
			g.vips = make([]netip.Addr, g.o.Count)
		}
		if t.idx < len(g.vips) {
			g.vips[t.idx] = t.vip
		}
		g.vmu.Unlock()
	}
	switch {
	case err != nil:
		g.rec.Failure(reason(err))
		t.phase = phaseDone
		g.table.del(t.spii)
		if t.keys != nil {
			t.keys.Clear()
		}
	case g.o.Hold > 0:
		g.rec.Success(latency)
		t.phase = phaseUp
		if g.o.IKERekey > 0 && t.keys != nil {
			t.skd, t.ikeSince = append([]byte(nil), t.keys.SKd...), time.Now()
		}
		t.settle()
		g.held.add(t)
	default:
		g.rec.Success(latency)
		t.phase = phaseDone
		g.table.del(t.spii)
		t.settle()
	}
	g.outcome()
}

// outcome counts one finished tunnel and frees its place in flight.
func (g *Generator) outcome() {
	g.lastOutcome.Store(time.Now().UnixNano())
	<-g.sem
	if g.outcomes.Add(1) == int64(g.o.Count) {
		close(g.done)
	}
}

// progress prints a line every ProgressEvery until ctx is done.
func (g *Generator) progress(ctx context.Context, t0 time.Time) {
	tick := time.NewTicker(g.o.ProgressEvery)
	defer tick.Stop()
	last := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.done:
			return
		case now := <-tick.C:
			ok, failed := g.rec.Counts()
			fmt.Fprintf(g.o.Progress, "t=%.1fs started=%d established=%d failed=%d in-flight=%d (%.0f/s)\n",
				now.Sub(t0).Seconds(), g.started.Load(), ok, failed, len(g.sem),
				float64(ok-last)/g.o.ProgressEvery.Seconds())
			last = ok
		}
	}
}

// table maps SPIi to tunnel, in segments with their own locks so that the
// readers of many sockets rarely contend.
type table struct {
	shards [64]struct {
		mu sync.Mutex
		m  map[uint64]*tunnel
	}
}

func (t *table) init() {
	for i := range t.shards {
		t.shards[i].m = map[uint64]*tunnel{}
	}
}

func (t *table) get(spi uint64) *tunnel {
	s := &t.shards[spi%uint64(len(t.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[spi]
}

func (t *table) put(tn *tunnel) {
	s := &t.shards[tn.spii%uint64(len(t.shards))]
	s.mu.Lock()
	s.m[tn.spii] = tn
	s.mu.Unlock()
}

func (t *table) del(spi uint64) {
	s := &t.shards[spi%uint64(len(t.shards))]
	s.mu.Lock()
	delete(s.m, spi)
	s.mu.Unlock()
}
