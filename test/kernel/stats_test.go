//go:build vmtest

package kernel

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/esp"
	"secgw/internal/netnsutil"
	"secgw/internal/poll"
)

// TestKernelESPErrorCounters: the kernel dataplane's error counters move
// on real ESP. A holds B's inbound key (AES-GCM) and sends B, over a
// raw IP protocol 50 socket, ESP it seals itself: a valid packet
// (accepted: the SA counts it), the same packet again (replayed), a
// packet whose ICV is corrupted, and one with an SPI no SA has. B's
// Stats show XfrmInStateSeqError, XfrmInStateProtoError and
// XfrmInNoStates moved, summed into the causes replay, auth_failure and
// bad_spi; its inbound SA's counters show the replay and integrity drops;
// A's namespace counts none of them.
func TestKernelESPErrorCounters(t *testing.T) {
	a, b := setup(t, topo{})
	c := with(gcm256, func(c *child) { c.spi = 0xd000 })
	install(t, a, b, c)
	inKey := dataplane.SAKey{Dst: b.outer, SPI: c.spi + 2} // B's inbound SA
	before, err := b.dp.Stats()
	if err != nil {
		t.Fatalf("B's xfrm_stat: %v", err)
	}
	aBefore, err := a.dp.Stats()
	if err != nil {
		t.Fatal(err)
	}
	seal := func(spi uint32, seq uint64) []byte {
		o, err := esp.NewOutbound(esp.Config{SPI: spi, Encr: c.encr, EncrKey: keyBytes(3, c.encrLen), Seq: seq - 1})
		if err != nil {
			t.Fatal(err)
		}
		inner := echoPacket(a.inner.As4(), b.inner.As4(), uint16(seq))
		buf := make([]byte, esp.Scratch+esp.MaxIVLen+len(inner)+esp.MaxTrailer)
		off := esp.Scratch + o.HeaderLen()
		copy(buf[off:], inner)
		p, err := o.Seal(buf, off, len(inner), esp.NextIPv4)
		if err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), p...)
	}
	var fd int
	if err := netnsutil.Run(a.ns, func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ESP)
		return err
	}); err != nil {
		t.Fatalf("raw ESP socket: %v", err)
	}
	defer unix.Close(fd)
	send := func(what string, p []byte) {
		if err := unix.Sendto(fd, p, 0, sockaddr(b.outer)); err != nil {
			t.Fatalf("send %s: %v", what, err)
		}
	}
	ctx := context.Background()
	valid := seal(c.spi+2, 1)
	send("valid", valid)
	if !poll.Until(3*time.Second, func() bool { k, err := b.dp.Counters(ctx, inKey); return err == nil && k.Packets >= 1 }) {
		k, err := b.dp.Counters(ctx, inKey)
		t.Fatalf("the valid packet was not accepted by B's SA: %+v %v", k, err)
	}
	send("replayed", valid)
	bad := seal(c.spi+2, 2)
	bad[len(bad)-1] ^= 0x55 // the ICV
	send("corrupted", bad)
	send("unknown SPI", seal(0xdead0001, 1))

	delta := func(after dataplane.Counters) bool { return after.ReplayDrops >= 1 && after.AuthDrops >= 1 }
	var after map[string]uint64
	moved := func() bool {
		s, err := b.dp.Stats()
		if err != nil {
			return false
		}
		after = s
		return s["XfrmInStateSeqError"] > before["XfrmInStateSeqError"] &&
			s["XfrmInStateProtoError"] > before["XfrmInStateProtoError"] &&
			s["XfrmInNoStates"] > before["XfrmInNoStates"]
	}
	if !poll.Until(3*time.Second, moved) {
		t.Fatalf("B's counters did not move:\nbefore %v\nafter  %v", before, after)
	}
	st, _ := b.dp.Stats()
	drops := st.Drops()
	for _, cause := range []string{"replay", "auth_failure", "bad_spi"} {
		if drops[cause] < 1 {
			t.Errorf("cause %s: %d (%v)", cause, drops[cause], drops)
		}
	}
	k, err := b.dp.Counters(ctx, inKey)
	if err != nil || !delta(k) {
		t.Errorf("B's inbound SA: %+v %v, want a replay and an integrity drop", k, err)
	}
	// Exactly those, and on that SA only: these per-SA figures are what
	// secgwd's child-sa replay-errors-in and integrity-errors-in read
	// (daemon childCountersOf).
	if k.ReplayDrops != 1 || k.AuthDrops != 1 {
		t.Errorf("B's inbound SA: %d replay and %d integrity drops, want 1 and 1 (one replayed, one corrupted packet)", k.ReplayDrops, k.AuthDrops)
	}
	for _, o := range []struct {
		who string
		s   *side
	}{{"B's outbound SA", b}, {"A's inbound SA", a}} {
		if k, err := o.s.dp.Counters(ctx, c.inSA(a)); err != nil || k.ReplayDrops != 0 || k.AuthDrops != 0 {
			t.Errorf("%s: %+v %v, want no drops (B's inbound SA had them)", o.who, k, err)
		}
	}
	aAfter, _ := a.dp.Stats()
	for _, n := range []string{"XfrmInStateSeqError", "XfrmInStateProtoError", "XfrmInNoStates"} {
		if aAfter[n] != aBefore[n] {
			t.Errorf("A's %s moved %d -> %d: B's drops counted in A's namespace", n, aBefore[n], aAfter[n])
		}
	}
	t.Logf("B: %v; inbound SA %+v", drops, k)
}

// echoPacket is an IPv4 ICMP echo request from src to dst.
func echoPacket(src, dst [4]byte, seq uint16) []byte {
	icmp := make([]byte, 8+16)
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], 0x5ec1)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	copy(icmp[8:], "secgw ESP stats")
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	ip := make([]byte, 20, 20+len(icmp))
	ip[0], ip[8], ip[9] = 0x45, 64, unix.IPPROTO_ICMP
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(icmp)))
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return append(ip, icmp...)
}
