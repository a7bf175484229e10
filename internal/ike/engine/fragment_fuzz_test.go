package engine_test

import (
	"slices"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// FuzzFragments delivers the fragments of a real IKE_AUTH request to the
// responder in an order, with duplicates and damaged copies, chosen by the
// input, then every fragment once more in order. Whatever came before,
// the exchange must then complete on both sides: damaged fragments are
// never kept, duplicates are ignored, nothing panics.
//
// Each op byte picks fragment op&0x3f (mod n) and, with its top two bits,
// what to deliver: 0 the fragment, 1 it with one octet flipped, 2 it
// truncated, 3 it relabelled with another Total Fragments without being
// sealed again.
func FuzzFragments(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{3, 2, 1, 0, 0, 1})
	f.Add([]byte{0x41, 0x82, 0xc3, 0x00})
	f.Fuzz(func(t *testing.T, ops []byte) {
		a, b, frags := initFragmenting(quiet{t})
		n := len(frags)
		if len(ops) > 4*n {
			ops = ops[:4*n]
		}
		for i, op := range ops {
			d := frags[int(op&0x3f)%n]
			data := slices.Clone(d.Data)
			switch op >> 6 {
			case 1:
				data[(i*7+int(op))%len(data)] ^= 0x80
			case 2:
				data = data[:len(data)/2]
			case 3:
				if m, err := wire.Parse(data); err == nil {
					f := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment)
					f.TotalFragments = uint16(n + 1 + i%3)
					f.FragmentNumber = min(f.FragmentNumber, f.TotalFragments)
					data, _ = m.Marshal()
				}
			}
			inject(b, engine.Datagram{Local: d.Local, Remote: d.Remote, Data: data}, nil, a)
		}
		for _, d := range frags {
			inject(b, d, nil, a)
		}
		// B answered once per completed request and once per fragment 1
		// of a retransmission; A takes the first complete response.
		for _, d := range takeAll(b) {
			inject(a, d, nil, b)
		}
		checkChildPair(t, a, b)
	})
}

// quiet is a testing.TB whose logs are dropped: the fuzz loop would
// otherwise keep every engine log line of every input.
type quiet struct{ testing.TB }

func (quiet) Log(...any) {}

func (quiet) Logf(string, ...any) {}
