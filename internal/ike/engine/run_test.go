package engine_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// gateConn is an in-memory network whose Send can be held shut, to keep
// a worker busy in Run.
type gateConn struct {
	*enginetest.Network
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gateConn) Send(d engine.Datagram) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return g.Network.Send(d)
}

func (g *gateConn) hold() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gateConn) release() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

// towards turns a datagram sent by one side into one received by the
// other.
func towards(d engine.Datagram) engine.Datagram {
	return engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data}
}

// TestRunJobLoadAndPriority runs B's engine with Run, one worker
// (threads 1) and init-limit-job-load 3, and holds the worker inside the
// Send of its answer to a first IKE_SA_INIT request:
//
//   - while three datagrams wait for the worker, a new IKE_SA_INIT
//     request is dropped on arrival (init-limit-job-load, "pending jobs
//     waiting for an available thread");
//   - once the worker is free, it serves the established IKE SA's
//     liveness check before the IKE_SA_INIT requests queued ahead of it:
//     a flood of new connections does not starve established ones.
func TestRunJobLoadAndPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gc := &gateConn{Network: enginetest.NewNetwork()}
		opts := withDoS(&dosProtection{CookieThreshold: generated.UnionUint32(0), InitLimitJobLoad: ptr(uint32(3))},
			func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) { g.Threads = ptr(uint32(1)) })
		a, b := pairOpts(t, nil, opts, nil, func(o *engine.Options) { o.Conn = gc })
		b.net = gc.Network
		establish(t, a, b)
		aspi, _ := onlySA(t, a)

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- b.e.Run(ctx) }()

		gc.hold()
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(1), Data: floodInit(t)})
		synctest.Wait() // the worker is in Send
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(2), Data: floodInit(t)})
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(3), Data: floodInit(t)})
		if err := a.e.CheckLiveness(aspi); err != nil {
			t.Fatal(err)
		}
		probe, _ := a.net.Next()
		gc.Inject(towards(probe)) // INFORMATIONAL request, behind two IKE_SA_INIT
		synctest.Wait()
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(4), Data: floodInit(t)})
		synctest.Wait()
		if st := b.e.DoSStats(); st.JobLoad != 1 {
			t.Fatalf("with 3 datagrams waiting: %+v", st)
		}

		gc.release()
		synctest.Wait()
		var order []string
		for _, d := range takeAll(b) {
			_, m := message(t, d)
			order = append(order, m.Header.Exchange.String()+">"+d.Remote.Addr().String())
		}
		want := []string{"IKE_SA_INIT>" + spoofed(1).Addr().String(), "INFORMATIONAL>" + addrA.String(),
			"IKE_SA_INIT>" + spoofed(2).Addr().String(), "IKE_SA_INIT>" + spoofed(3).Addr().String()}
		if len(order) != len(want) {
			t.Fatalf("B sent %v, want %v", order, want)
		}
		for i := range want {
			if order[i] != want[i] {
				t.Fatalf("B sent %v, want %v", order, want)
			}
		}
		if st := b.e.DoSStats(); st.HalfOpen != 3 {
			t.Fatalf("%+v", st)
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Run: %v", err)
		}
	})
}

// addrPort is a on the IKE port.
func addrPort(a netip.Addr) netip.AddrPort { return netip.AddrPortFrom(a, engine.PortIKE) }

// TestRunWorkerLatency: the worker's Wait and Handling histograms (the
// metrics' per-worker job latency). On synctest's clock, with the worker
// held 30 ms inside the Send of its answer to a first IKE_SA_INIT
// request, that request's handling takes 30 ms and a second request,
// queued meanwhile, waits 30 ms and is handled at once.
func TestRunWorkerLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gc := &gateConn{Network: enginetest.NewNetwork()}
		opts := withDoS(&dosProtection{CookieThreshold: generated.UnionUint32(0)},
			func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) { g.Threads = ptr(uint32(1)) })
		_, b := pairOpts(t, nil, opts, nil, func(o *engine.Options) { o.Conn = gc })
		b.net = gc.Network
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- b.e.Run(ctx) }()

		gc.hold()
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(1), Data: floodInit(t)})
		synctest.Wait() // the worker is in Send
		gc.Inject(engine.Datagram{Local: addrPort(addrB), Remote: spoofed(2), Data: floodInit(t)})
		synctest.Wait()
		time.Sleep(30 * time.Millisecond)
		gc.release()
		synctest.Wait()

		ws := b.e.WorkerStats()
		if len(ws) != 1 || ws[0].Jobs != 2 {
			t.Fatalf("worker stats %+v, want one worker with 2 jobs", ws)
		}
		const at30ms = 11 // LatencyBounds()[11] is 50 ms, [10] 25 ms
		if b := engine.LatencyBounds(); b[at30ms] != 50*time.Millisecond || b[at30ms-1] != 25*time.Millisecond {
			t.Fatalf("LatencyBounds %v", b)
		}
		for _, h := range []struct {
			name string
			l    engine.Latency
		}{{"wait", ws[0].Wait}, {"handling", ws[0].Handling}} {
			var want [engine.LatencyBuckets + 1]uint64
			want[0], want[at30ms] = 1, 1 // one at once, one after 30 ms
			if h.l.Counts != want || h.l.Sum != 30*time.Millisecond || h.l.Count() != 2 {
				t.Errorf("%s: counts %v sum %v, want %v and 30ms", h.name, h.l.Counts, h.l.Sum, want)
			}
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("Run: %v", err)
		}
	})
}
