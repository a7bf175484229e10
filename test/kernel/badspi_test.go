//go:build vmtest

package kernel

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/netnsutil"
	"secgw/internal/poll"
)

// TestKernelBadSPIResponse: respond-bad-spi with the kernel dataplane,
// along the daemon's path (internal/daemon's badspi.go, whose glue this
// test plays). Peer C and gateway A set up a child SA over IKE (engines
// over the childsa Programmer and XFRM); C then sends A ESP with an SPI
// A has no SA for. A's XfrmInNoStates grows; the sample of A's inbound
// ESP finds that SPI from C's address (and not the SPIs of the child
// SA, whose packets a ping sends meanwhile); A's engine, told, sends
// INVALID_SPI over the IKE SA with C, which C answers.
func TestKernelBadSPIResponse(t *testing.T) {
	ctx := context.Background()
	a, c := setup(t, topo{})
	gwNet, cNet := netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")
	peer := newHAEngine(t, "to-gw", c.dp, c.outer, a.outer, "c.example", "gw.example", cNet, gwNet, false)
	gw := newHAEngine(t, "from-c", a.dp, a.outer, netip.Addr{}, "gw.example", "c.example", gwNet, cNet, false)
	cfg := *gw.e.Config()
	cfg.Global.RespondBadSPI = 5
	gw.e.SetConfig(&cfg)
	if err := peer.e.Initiate("to-gw"); err != nil {
		t.Fatal(err)
	}
	converse(t, peer, gw)
	if n, err := ping(c.ns, c.inner, a.inner, 3); err != nil || n != 3 {
		t.Fatalf("through the child SA: %d of 3 replies, %v", n, err)
	}
	before, err := a.dp.Stats()
	if err != nil {
		t.Fatal(err)
	}

	const stale = 0x0badbad1
	var fd int
	if err := netnsutil.Run(c.ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ESP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		pkt := make([]byte, 8+64)
		binary.BigEndian.PutUint32(pkt, stale)
		for seq := uint32(1); ; seq++ {
			binary.BigEndian.PutUint32(pkt[4:], seq)
			unix.Sendto(fd, pkt, 0, sockaddr(a.outer))
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	grew := poll.Until(3*time.Second, func() bool {
		s, err := a.dp.Stats()
		return err == nil && s["XfrmInNoStates"] > before["XfrmInNoStates"]
	})
	if !grew {
		close(stop)
		<-done
		t.Fatal("A's XfrmInNoStates did not grow with C's stale ESP")
	}
	pinged := make(chan error, 1)
	go func() { _, err := ping(c.ns, c.inner, a.inner, 3); pinged <- err }()
	evs, err := a.dp.SampleUnknownSPI(ctx, time.Second, 16)
	close(stop)
	<-done
	if perr := <-pinged; perr != nil {
		t.Errorf("ping during the sample: %v", perr)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := dataplane.Event{Kind: dataplane.UnknownSPI, SA: dataplane.SAKey{Dst: a.outer, SPI: stale}, Src: c.outer}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("sampled %+v, want only %+v", evs, want)
	}
	if !gw.e.UnknownSPI(evs[0].SA.Dst, evs[0].Src, evs[0].SA.SPI) {
		t.Fatal("A's engine queued no INVALID_SPI")
	}
	if gw.net.Len() == 0 {
		t.Fatal("A sent nothing to C")
	}
	converse(t, gw, peer)
	if st := gw.e.BadSPIStats(); st.Sent != 1 || st.Reported != 1 {
		t.Errorf("A's bad-SPI counters %+v, want one reported, one sent", st)
	}
	if n := len(peer.e.IKESAs()); n != 1 {
		t.Errorf("C holds %d IKE SAs after the INFORMATIONAL, want 1", n)
	}
}
