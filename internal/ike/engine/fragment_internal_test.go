package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"secgw/internal/ipsec"
	"testing"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

var fragSuites = []struct {
	name string
	s    ikecrypto.Suite
}{
	{"aes256gcm16", ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupECP256}},
	{"aes128-sha256", ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupECP256}},
	{"chacha20poly1305", ikecrypto.Suite{Encr: ipsec.EncrChaCha20Poly1305, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519}},
}

// keyedPair returns the two ends of one IKE SA with fragmentation
// negotiated, in one engine: s, the initiator, sends; r receives.
func keyedPair(t testing.TB, suite ikecrypto.Suite, fragmentSize int) (s, r *ikeSA) {
	t.Helper()
	e := New(Options{FragmentSize: fragmentSize})
	s = &ikeSA{spii: 1, spir: 2, initiator: true, remote: netip.MustParseAddrPort("192.0.2.2:500")}
	r = &ikeSA{spii: 1, spir: 2, remote: netip.MustParseAddrPort("192.0.2.1:500")}
	for _, sa := range []*ikeSA{s, r} {
		w := e.workerFor(sa.remote.Addr())
		w.add(sa)
		e.set.Load().table.insertNew(sa, e.o.Rand)
		keys, err := ikecrypto.NewIKEKeys(suite, make([]byte, 32), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		sa.setKeys(suite, keys)
		sa.fragOK = true
	}
	return s, r
}

// TestFragmentPlainLen: a fragment carries as much plaintext as fits in
// the limit and not one octet more, for every cipher shape (block
// padding with AES-CBC, none with the AEADs).
func TestFragmentPlainLen(t *testing.T) {
	for _, fs := range fragSuites {
		s, _ := keyedPair(t, fs.s, 0)
		c := s.cipherOut()
		for limit := 40; limit <= 1500; limit++ {
			n := fragmentPlainLen(c, limit)
			room := limit - wire.HeaderLen - skfHeaderLen
			if n == 0 {
				if c.SealedLen(1) <= room {
					t.Fatalf("%s limit %d: no room found, but one octet fits", fs.name, limit)
				}
				continue
			}
			if c.SealedLen(n) > room || c.SealedLen(n+1) <= room {
				t.Fatalf("%s limit %d: %d octets per fragment (sealed %d, next %d, room %d)",
					fs.name, limit, n, c.SealedLen(n), c.SealedLen(n+1), room)
			}
		}
	}
}

// TestFragmentLimit: the fragment size counts the IP and UDP headers, and
// the Non-ESP Marker on port 4500 (RFC 7383 §2.5.1).
func TestFragmentLimit(t *testing.T) {
	s, _ := keyedPair(t, fragSuites[0].s, 0)
	for _, tc := range []struct {
		remote string
		natt   bool
		want   int
	}{
		{"192.0.2.2:500", false, 1280 - 28},
		{"192.0.2.2:4500", true, 1280 - 32},
		{"[2001:db8::2]:500", false, 1280 - 48},
		{"[::ffff:192.0.2.2]:500", false, 1280 - 28},
	} {
		s.remote, s.natt = netip.MustParseAddrPort(tc.remote), tc.natt
		if got := s.fragmentLimit(); got != tc.want {
			t.Errorf("%s natt %v: limit %d, want %d", tc.remote, tc.natt, got, tc.want)
		}
	}
}

// TestFragmentRoundTrip sends messages of many sizes through encodeAll
// and reassembles them in a shuffled order with duplicates: every message
// comes back equal, only messages too large for one datagram are
// fragmented, and every fragment respects the limit.
func TestFragmentRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fs := range fragSuites {
		for _, size := range []int{0, 1, 50, 200, 1000, 5000, 10000} {
			t.Run(fmt.Sprintf("%s/%d", fs.name, size), func(t *testing.T) {
				s, r := keyedPair(t, fs.s, 300)
				ps := []wire.Payload{&wire.Nonce{Data: bytes.Repeat([]byte{7}, 32)},
					wire.NewNotify(wire.NotifyType(40000), bytes.Repeat([]byte{9}, size))}
				msgs, err := s.encodeAll(wire.ExchangeInformational, 5, false, ps)
				if err != nil {
					t.Fatal(err)
				}
				limit := s.fragmentLimit()
				single, _ := s.encode(wire.ExchangeInformational, 5, false, ps)
				if (len(single) <= limit) != (len(msgs) == 1) {
					t.Fatalf("%d-octet message in %d datagrams, limit %d", len(single), len(msgs), limit)
				}
				order := rng.Perm(len(msgs))
				order = append(order, order[:len(order)/2]...) // duplicates
				var got []wire.Payload
				done := 0
				for _, i := range order {
					if len(msgs) > 1 && len(msgs[i]) > limit {
						t.Fatalf("fragment of %d octets, limit %d", len(msgs[i]), limit)
					}
					m, err := wire.Parse(msgs[i])
					if err != nil {
						t.Fatal(err)
					}
					p, complete, err := r.decrypt(m, false)
					if err != nil {
						t.Fatal(err)
					}
					if complete {
						got = p
						done++
					}
				}
				if done != 1 || !reflect.DeepEqual(got, ps) {
					t.Fatalf("reassembled %d times: %v", done, got)
				}
			})
		}
	}
}

// BenchmarkFragmented seals a 10 000-octet message (an IKE_AUTH with a
// certificate chain) into fragments of the default size and reassembles
// it.
func BenchmarkFragmented(b *testing.B) {
	for _, fs := range fragSuites {
		b.Run(fs.name, func(b *testing.B) {
			s, r := keyedPair(b, fs.s, 0)
			ps := []wire.Payload{wire.NewNotify(wire.NotifyType(40000), make([]byte, 10000))}
			b.SetBytes(10000)
			var n int
			for b.Loop() {
				msgs, err := s.encodeAll(wire.ExchangeIKEAuth, 1, false, ps)
				if err != nil {
					b.Fatal(err)
				}
				n = len(msgs)
				for _, raw := range msgs {
					m, _ := wire.Parse(raw)
					if _, _, err := r.decrypt(m, false); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(n), "fragments")
		})
	}
}
