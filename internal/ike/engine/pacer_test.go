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

// peersConn is a Conn that records the peers datagrams were sent to and
// receives nothing.
type peersConn struct {
	mu    sync.Mutex
	peers map[netip.Addr]bool
}

func (c *peersConn) Send(d engine.Datagram) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peers[d.Remote.Addr()] = true
	return nil
}

func (c *peersConn) Receive(ctx context.Context) (engine.Datagram, error) {
	<-ctx.Done()
	return engine.Datagram{}, ctx.Err()
}

func (c *peersConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.peers)
}

// initiators is the configuration of n VPNs with start-action start, each
// to its own peer, with global-options initiate-rate rate (nil: the
// default).
func initiators(t *testing.T, n int, rate *uint32) *config.Config {
	t.Helper()
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{}}
	for i := range n {
		name := fmt.Sprintf("v%05d", i)
		remote := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		one := vpnConfig(name, addrA, remote, "a.example", fmt.Sprintf("b%d.example", i), "secret",
			"192.168.1.0/24", fmt.Sprintf("10.%d.%d.0/24", 100+i>>8, i&255))
		startAction(startStart)(one)
		ike.Vpn[name] = one.Vpn[name]
	}
	withDoS(nil, func(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) { g.InitiateRate = rate })(ike)
	c, err := resolve.Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestInitiateRate: a commit that adds 10,000 VPNs with start-action
// start (as the start of secgwd from a stored configuration does)
// initiates them at global-options initiate-rate, 500 per second by
// default, not all at once: on the fake clock, the peers contacted
// after each tenth of a second are the first one and 500 per second
// since, and all 10,000 after 20 s.
func TestInitiateRate(t *testing.T) {
	const n, rate = 10000, config.DefaultInitiateRate
	synctest.Test(t, func(t *testing.T) {
		conn := &peersConn{peers: map[netip.Addr]bool{}}
		e := engine.New(engine.Options{Config: &config.Config{}, LocalAddr: addrA, Conn: conn, Dataplane: enginetest.NewDataplane()})
		e.SetConfig(initiators(t, n, nil))
		synctest.Wait()
		if got := conn.count(); got != 1 {
			t.Fatalf("%d peers contacted at once, want 1", got)
		}
		for tick := 1; tick <= 10*n/rate; tick++ {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			if got, want := conn.count(), min(n, 1+tick*rate/10); got != want {
				t.Fatalf("after %v: %d peers contacted, want %d", time.Duration(tick)*100*time.Millisecond, got, want)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := conn.count(); got != n {
			t.Fatalf("%d peers contacted in the end, want %d", got, n)
		}
	})
}

// TestInitiateRateZero: initiate-rate 0 does not pace: every VPN with
// start-action start is initiated when the configuration is applied.
func TestInitiateRateZero(t *testing.T) {
	const n = 1000
	synctest.Test(t, func(t *testing.T) {
		conn := &peersConn{peers: map[netip.Addr]bool{}}
		e := engine.New(engine.Options{Config: &config.Config{}, LocalAddr: addrA, Conn: conn, Dataplane: enginetest.NewDataplane()})
		e.SetConfig(initiators(t, n, ptr(uint32(0))))
		synctest.Wait()
		if got := conn.count(); got != n {
			t.Fatalf("%d peers contacted at once, want %d", got, n)
		}
	})
}
