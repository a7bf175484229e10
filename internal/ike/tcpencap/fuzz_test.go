package tcpencap

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzReader feeds arbitrary streams to the prefix check and the frame
// reader: they must end with an error or frames whose lengths agree with
// the stream, never panic or read past what was declared.
func FuzzReader(f *testing.F) {
	good := []byte(Prefix)
	good, _ = AppendFrame(good, ikePkt(28))
	good, _ = AppendFrame(good, espPkt(16))
	f.Add(good)
	f.Add([]byte("IKETCX\x00\x0a\x01\x02\x03\x04\x05\x06\x07\x08"))
	f.Add([]byte("IKETCP\xff\xff\x00\x00\x00\x00"))
	f.Add([]byte("IKETCP\x00\x01"))
	f.Add([]byte("IKETCP\x00\x06\x00\x00\x00\x00"))
	f.Add([]byte("IKE"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer a.Close()
		go func() { b.Write(data); b.Close() }()
		r := NewReader(a, time.Second)
		if err := r.ReadPrefix(); err != nil {
			io.Copy(io.Discard, a)
			return
		}
		rest := data[len(Prefix):]
		for {
			p, err := r.Next()
			if err != nil {
				io.Copy(io.Discard, a)
				return
			}
			if len(p) < minPacket || len(rest) < 2+len(p) || !bytes.Equal(rest[2:2+len(p)], p) {
				t.Fatalf("frame of %d octets does not match the stream", len(p))
			}
			rest = rest[2+len(p):]
		}
	})
}
