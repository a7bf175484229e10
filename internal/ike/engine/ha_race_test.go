package engine_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"secgw/internal/ike/engine"
)

// haPump moves the datagrams from sends to the engine of to, which runs
// Run, until ctx is done.
func haPump(ctx context.Context, wg *sync.WaitGroup, from, to *peer) {
	defer wg.Done()
	for ctx.Err() == nil {
		d, ok := from.net.Next()
		if !ok {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		to.net.Inject(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	}
}

// TestHARoleChangesUnderTraffic: role changes, snapshots and imports
// while the engines run their workers and exchange DPDs (run it with
// -race): no race, no deadlock, and A ends active with the IKE SA.
func TestHARoleChangesUnderTraffic(t *testing.T) {
	c, a := pair(t, nil, nil, quietLog)
	b := newPeer(t, vpnConfig("from-a", addrB, netip.Addr{}, "b.example", "a.example", "secret", "192.168.2.0/24", "192.168.1.0/24"), addrB, both(standby, quietLog))
	a.e.SetSyncSink(&haSink{t: t, to: b.e})
	establish(t, c, a)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(4)
	go haPump(ctx, &wg, c, a)
	go haPump(ctx, &wg, a, c)
	go func() { defer wg.Done(); c.e.Run(ctx) }()
	go func() { defer wg.Done(); a.e.Run(ctx) }()
	spiC, _ := onlySA(t, c)
	for i := range 50 {
		c.e.CheckLiveness(spiC)
		if i%10 == 5 {
			a.e.SetRole(false, nil, 0)
			a.e.Snapshot(true)
			a.e.SetRole(true, nil, uint64(i))
		}
		a.e.SyncSnapshot(func(_, _ uint64, rec []byte) { b.e.SyncImport(rec) })
		b.e.Snapshot(false)
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	if !a.e.Role() || len(a.e.Snapshot(false)) != 1 || b.e.HAStats().Passive != 1 {
		t.Fatalf("A active %v with %d IKE SAs, B %+v", a.e.Role(), len(a.e.Snapshot(false)), b.e.HAStats())
	}
}
