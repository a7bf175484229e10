package tcpencap

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// ikePkt is an IKE message behind its Non-ESP Marker (RFC 9329 §3.1).
func ikePkt(n int) []byte {
	b := make([]byte, 4+n)
	for i := 4; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

func espPkt(n int) []byte {
	b := make([]byte, n)
	copy(b, []byte{0xc0, 0x01, 0x02, 0x03})
	return b
}

// pipeReader returns a Reader over one end of an in-memory stream and the
// other end for the test to write.
func pipeReader(t *testing.T, timeout time.Duration) (*Reader, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return NewReader(a, timeout), b
}

func TestFrameRoundTrip(t *testing.T) {
	r, w := pipeReader(t, time.Second)
	pkts := [][]byte{ikePkt(28), espPkt(8), espPkt(1400), ikePkt(MaxPacket - 4)}
	go func() {
		out := []byte(Prefix)
		for _, p := range pkts {
			var err error
			if out, err = AppendFrame(out, p); err != nil {
				panic(err)
			}
		}
		w.Write(out)
	}()
	if err := r.ReadPrefix(); err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(f, p) {
			t.Fatalf("frame %d: got %d octets, want %d", i, len(f), len(p))
		}
		if IsIKE(f) != (i == 0 || i == 3) {
			t.Fatalf("frame %d: IsIKE = %v", i, IsIKE(f))
		}
	}
}

// The Length counts itself (RFC 9329 §3): an 8-octet ESP packet is a frame
// of Length 10.
func TestAppendFrameLength(t *testing.T) {
	f, err := AppendFrame(nil, espPkt(8))
	if err != nil {
		t.Fatal(err)
	}
	if f[0] != 0 || f[1] != 10 || len(f) != 10 {
		t.Fatalf("frame % x", f)
	}
	if _, err := AppendFrame(nil, make([]byte, MaxPacket+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("oversized packet: %v", err)
	}
	if _, err := AppendFrame(nil, []byte{1, 2}); !errors.Is(err, ErrShortFrame) {
		t.Fatalf("short packet: %v", err)
	}
}

func TestBadPrefix(t *testing.T) {
	r, w := pipeReader(t, time.Second)
	go w.Write([]byte("GET / HTTP/1.1\r\n"))
	if err := r.ReadPrefix(); !errors.Is(err, ErrBadPrefix) {
		t.Fatalf("got %v, want ErrBadPrefix", err)
	}
}

// A Length below the smallest IKE or ESP frame is bad framing.
func TestShortLength(t *testing.T) {
	for _, l := range []uint16{0, 1, 2, 5} {
		r, w := pipeReader(t, time.Second)
		go w.Write([]byte{byte(l >> 8), byte(l), 0, 0, 0, 0, 0, 0})
		if _, err := r.Next(); !errors.Is(err, ErrShortFrame) {
			t.Fatalf("length %d: got %v, want ErrShortFrame", l, err)
		}
	}
}

// A peer that declares the largest length and sends less, or writes a frame
// an octet at a time too slowly, loses the stream after the timeout.
func TestSlowAndTruncated(t *testing.T) {
	r, w := pipeReader(t, 100*time.Millisecond)
	go w.Write([]byte{0xff, 0xff, 0, 0, 0, 0, 1, 2, 3})
	if _, err := r.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("huge length, few octets: got %v, want a deadline", err)
	}

	r, w = pipeReader(t, 100*time.Millisecond)
	go func() {
		f, _ := AppendFrame(nil, ikePkt(100))
		for _, b := range f {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if _, err := r.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("slow writer: got %v, want a deadline", err)
	}

	// The prefix itself is timed from the start: a client that
	// connects and says nothing is dropped.
	r, _ = pipeReader(t, 100*time.Millisecond)
	if err := r.ReadPrefix(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent client: got %v, want a deadline", err)
	}
}

// Between frames the stream may idle longer than the frame timeout.
func TestIdleBetweenFrames(t *testing.T) {
	r, w := pipeReader(t, 50*time.Millisecond)
	go func() {
		time.Sleep(150 * time.Millisecond)
		f, _ := AppendFrame(nil, espPkt(20))
		w.Write(f)
	}()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedEOF(t *testing.T) {
	f, _ := AppendFrame(nil, ikePkt(40))
	for cut := 1; cut < len(f); cut++ {
		r, w := pipeReader(t, time.Second)
		go func() { w.Write(f[:cut]); w.Close() }()
		if _, err := r.Next(); err == nil {
			t.Fatalf("cut at %d: no error", cut)
		}
	}
}
