package engine_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/resolve"
)

// switchNet is an in-memory network of engines that all run Run: a
// datagram sent to an address goes to the Receive of the engine that
// has it (dropped when its queue is full, as UDP would).
type switchNet struct {
	mu    sync.Mutex
	inbox map[netip.Addr]chan engine.Datagram
}

type switchPort struct {
	sw   *switchNet
	addr netip.Addr
}

func (s *switchNet) port(a netip.Addr) *switchPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inbox == nil {
		s.inbox = map[netip.Addr]chan engine.Datagram{}
	}
	s.inbox[a] = make(chan engine.Datagram, 4096)
	return &switchPort{sw: s, addr: a}
}

func (p *switchPort) Send(d engine.Datagram) error {
	p.sw.mu.Lock()
	ch := p.sw.inbox[d.Remote.Addr()]
	p.sw.mu.Unlock()
	if ch != nil {
		select {
		case ch <- engine.Datagram{Local: d.Remote, Remote: d.Local, Data: append([]byte(nil), d.Data...)}:
		default:
		}
	}
	return nil
}

func (p *switchPort) Receive(ctx context.Context) (engine.Datagram, error) {
	p.sw.mu.Lock()
	ch := p.sw.inbox[p.addr]
	p.sw.mu.Unlock()
	select {
	case d := <-ch:
		return d, nil
	case <-ctx.Done():
		return engine.Datagram{}, ctx.Err()
	}
}

// TestWorkersUnderLoad: a responder with 4 workers (threads 4) and a
// segmented SA table serves 40 initiators that all run at once, each in
// its own goroutines (run with -race): every tunnel comes up, DPD keeps
// them up, the operator's rekeys of every IKE SA run concurrently with
// the traffic, and afterwards every IKE SA is on the worker of its peer,
// in the table and in its worker's timer heap.
func TestWorkersUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		sw := &switchNet{}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		run := func(e *engine.Engine) {
			wg.Add(1)
			go func() { defer wg.Done(); e.Run(ctx) }()
		}
		ikeB := anyConfig()
		ikeB.Vpn["any"].IkePolicy.DpdDelay = ptr("10s")
		withDoS(&dosProtection{CookieThreshold: generated.UnionUint32(0)}, func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) {
			g.Threads, g.SaTableSize, g.SaTableSegments = ptr(uint32(4)), ptr(uint32(64)), ptr(uint32(8))
		})(ikeB)
		cb, err := resolve.Config(ikeB)
		if err != nil {
			t.Fatal(err)
		}
		dpB := enginetest.NewDataplane()
		var evB countingEvents
		ob := engine.Options{Config: cb, LocalAddr: addrB, Conn: sw.port(addrB), Dataplane: dpB}
		evB.hook()(&ob)
		b := engine.New(ob)
		run(b)
		var inits []*engine.Engine
		for i := range n {
			addr := netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)})
			ike := vpnConfig("to-b", addr, addrB, fmt.Sprintf("a%d.example", i), "b.example", "secret",
				fmt.Sprintf("10.%d.0.0/16", 100+i), "192.168.2.0/24")
			ike.Vpn["to-b"].IkePolicy.DpdDelay = ptr("10s")
			c, err := resolve.Config(ike)
			if err != nil {
				t.Fatal(err)
			}
			e := engine.New(engine.Options{Config: c, LocalAddr: addr, Conn: sw.port(addr), Dataplane: enginetest.NewDataplane()})
			run(e)
			inits = append(inits, e)
		}
		var iwg sync.WaitGroup
		for _, e := range inits {
			iwg.Add(1)
			go func() { defer iwg.Done(); e.Initiate("to-b") }()
		}
		iwg.Wait()
		time.Sleep(30 * time.Second) // retransmissions, three DPD rounds
		synctest.Wait()
		if st := b.DoSStats(); st.Established != n || st.HalfOpen != 0 || len(dpB.Children()) != n {
			t.Fatalf("B: %+v, %d child SAs", st, len(dpB.Children()))
		}
		// The operator rekeys every IKE SA of B while A's DPD runs.
		var rwg sync.WaitGroup
		for _, s := range b.Snapshot(false) {
			rwg.Add(1)
			go func() { defer rwg.Done(); b.RekeyIKE(s.UniqueID) }()
		}
		rwg.Wait()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if st := b.DoSStats(); st.Established != n || len(dpB.Children()) != n || evB.count(engine.IKERekeyed) != n || evB.count(engine.IKEDown) != 0 {
			t.Fatalf("after the rekeys: %+v, %d child SAs, events %v", st, len(dpB.Children()), evB.n)
		}
		per, err := b.CheckWorkersForTest()
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range per {
			if k == 0 {
				t.Errorf("worker %d has no IKE SA of the %d peers: %v", i, n, per)
			}
		}
		for _, e := range inits {
			if _, err := e.CheckWorkersForTest(); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		wg.Wait()
	})
}

// TestReshapeOnFirstConfig: the daemon creates its engine empty, starts
// Run, then applies the configuration: threads and the SA table's shape
// of that first configuration take effect (no IKE SA exists yet), Run
// goes on with the new workers, and a later change while IKE SAs exist
// keeps the running shape.
func TestReshapeOnFirstConfig(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := &switchNet{}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		dpB := enginetest.NewDataplane()
		b := engine.New(engine.Options{LocalAddr: addrB, Conn: sw.port(addrB), Dataplane: dpB})
		if per, _ := b.CheckWorkersForTest(); len(per) != config.DefaultThreads {
			t.Fatalf("%d workers before the configuration, want %d", len(per), config.DefaultThreads)
		}
		done := make(chan struct{})
		go func() { b.Run(ctx); close(done) }()
		shape := func(threads uint32) *config.Config {
			ike := anyConfig()
			withDoS(nil, func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) {
				g.Threads, g.SaTableSize, g.SaTableSegments = ptr(threads), ptr(uint32(64)), ptr(uint32(8))
			})(ike)
			c, err := resolve.Config(ike)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		b.SetConfig(shape(3))
		if per, _ := b.CheckWorkersForTest(); len(per) != 3 {
			t.Fatalf("%d workers after the first configuration, want 3", len(per))
		}
		ike := vpnConfig("to-b", addrA, addrB, "a.example", "b.example", "secret", "10.1.0.0/16", "192.168.2.0/24")
		ca, _ := resolve.Config(ike)
		a := engine.New(engine.Options{Config: ca, LocalAddr: addrA, Conn: sw.port(addrA), Dataplane: enginetest.NewDataplane()})
		go a.Run(ctx)
		a.Initiate("to-b")
		synctest.Wait()
		if len(dpB.Children()) != 1 {
			t.Fatal("no tunnel through the new workers")
		}
		b.SetConfig(shape(5))
		if per, err := b.CheckWorkersForTest(); err != nil || len(per) != 3 {
			t.Fatalf("%d workers with an IKE SA up (%v), want the 3 in use", len(per), err)
		}
		cancel()
		<-done
	})
}
