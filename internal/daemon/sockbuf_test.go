package daemon

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestESPBuffers checks that a NAT-T socket of the userspace dataplane
// gets espSocketBuffer for receiving and sending: all of it as root
// (SO_RCVBUFFORCE), else up to net.core.rmem_max/wmem_max. Linux reports
// twice the size set (the bookkeeping overhead it adds).
func TestESPBuffers(t *testing.T) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := &Daemon{}
	if err := d.onNATTSocket(c); err != nil {
		t.Fatal(err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		name, sysctl string
		opt          int
	}{{"SO_RCVBUF", "rmem_max", unix.SO_RCVBUF}, {"SO_SNDBUF", "wmem_max", unix.SO_SNDBUF}} {
		want := espSocketBuffer
		if os.Geteuid() != 0 {
			want = min(want, sysctlInt(t, "/proc/sys/net/core/"+o.sysctl))
		}
		var got int
		var gerr error
		rc.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, o.opt) })
		if gerr != nil {
			t.Fatal(gerr)
		}
		if got < 2*want {
			t.Errorf("%s = %d, want %d (twice %d)", o.name, got, 2*want, want)
		}
	}
}

func sysctlInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
