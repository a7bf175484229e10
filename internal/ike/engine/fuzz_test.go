package engine_test

import (
	"net/netip"
	"testing"

	"secgw/internal/ike/engine"
)

// FuzzResponder feeds arbitrary datagrams to a responder engine, on port
// 500 and on port 4500; it must never panic. The seeds are the messages of
// a real exchange between two engines, so mutations reach deep code paths.
func FuzzResponder(f *testing.F) {
	a, b := pair(f, nil, nil, nil)
	a.e.Initiate("to-b")
	for range 4 {
		src, dst := a, b
		if b.net.Len() > 0 {
			src, dst = b, a
		}
		d, ok := src.net.Next()
		if !ok {
			break
		}
		f.Add(d.Data, false)
		dst.e.HandleDatagram(engine.Datagram{Local: d.Remote, Remote: d.Local, Data: d.Data})
	}
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3}, true)
	f.Fuzz(func(t *testing.T, data []byte, natt bool) {
		_, r := pair(t, nil, nil, nil)
		port := uint16(engine.PortIKE)
		if natt {
			port = engine.PortNATT
		}
		d := engine.Datagram{Local: netip.AddrPortFrom(addrB, port), Remote: netip.AddrPortFrom(addrA, port), Data: data}
		r.e.HandleDatagram(d)
		r.e.HandleDatagram(d) // a duplicate goes through the cache path
	})
}
