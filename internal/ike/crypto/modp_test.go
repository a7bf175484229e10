package crypto

import (
	"bytes"
	"errors"
	"math/big"
	"secgw/internal/ipsec"
	"testing"
)

var modpIDs = []ipsec.TransformID{
	ipsec.GroupMODP1024, ipsec.GroupMODP1536, ipsec.GroupMODP2048, ipsec.GroupMODP3072, ipsec.GroupMODP4096,
}

// piFixed returns floor(pi * 2^prec), from Machin's formula
// pi = 16 arctan(1/5) - 4 arctan(1/239), with guard bits.
func piFixed(prec uint) *big.Int {
	const guard = 64
	arctanInv := func(x int64) *big.Int {
		one := new(big.Int).Lsh(big.NewInt(1), prec+guard)
		x2 := big.NewInt(x * x)
		term := new(big.Int).Quo(one, big.NewInt(x))
		sum := new(big.Int).Set(term)
		for n := int64(3); term.Sign() != 0; n += 2 {
			term.Quo(term, x2)
			t := new(big.Int).Quo(term, big.NewInt(n))
			if n%4 == 3 {
				sum.Sub(sum, t)
			} else {
				sum.Add(sum, t)
			}
		}
		return sum
	}
	pi := new(big.Int).Mul(arctanInv(5), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(arctanInv(239), big.NewInt(4)))
	return pi.Rsh(pi, guard)
}

// TestMODPPrimes recomputes each prime from its definition,
// p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k), with n and k from
// RFC 2409 §6.2 (group 2) and RFC 3526 §2-§5 (groups 5, 14, 15, 16).
func TestMODPPrimes(t *testing.T) {
	pi := piFixed(4096)
	for _, v := range []struct {
		id ipsec.TransformID
		n  uint
		k  int64
	}{
		{ipsec.GroupMODP1024, 1024, 129093},
		{ipsec.GroupMODP1536, 1536, 741804},
		{ipsec.GroupMODP2048, 2048, 124476},
		{ipsec.GroupMODP3072, 3072, 1690314},
		{ipsec.GroupMODP4096, 4096, 240904},
	} {
		f := new(big.Int).Rsh(pi, 4096-(v.n-130))
		f.Add(f, big.NewInt(v.k))
		p := new(big.Int).Lsh(big.NewInt(1), v.n)
		p.Sub(p, new(big.Int).Lsh(big.NewInt(1), v.n-64))
		p.Sub(p, big.NewInt(1))
		p.Add(p, f.Lsh(f, 64))
		g := modpGroupFor(v.id)
		if g == nil || g.p.Cmp(p) != 0 {
			t.Errorf("%s: prime differs from its RFC definition", groupName(v.id))
			continue
		}
		if g.size != int(v.n/8) || KeyExchangeDataLen(v.id) != int(v.n/8) {
			t.Errorf("%s: size %d", groupName(v.id), g.size)
		}
		if testing.Short() {
			continue
		}
		// Safe primes: p and (p-1)/2 are prime.
		q := new(big.Int).Rsh(g.p, 1)
		if !g.p.ProbablyPrime(2) || !q.ProbablyPrime(2) {
			t.Errorf("%s: not a safe prime", groupName(v.id))
		}
	}
}

func TestMODPAgreement(t *testing.T) {
	for _, id := range modpIDs {
		a, err := NewDH(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewDH(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		size := KeyExchangeDataLen(id)
		if a.Group() != id || len(a.PublicKey()) != size {
			t.Errorf("%s: group %d, %d-octet public value", groupName(id), a.Group(), len(a.PublicKey()))
		}
		s1, err1 := a.SharedSecret(b.PublicKey())
		s2, err2 := b.SharedSecret(a.PublicKey())
		if err1 != nil || err2 != nil || !bytes.Equal(s1, s2) || len(s1) != size {
			t.Errorf("%s: shared secrets differ or wrong length (%v, %v)", groupName(id), err1, err2)
		}
	}
}

// TestMODPPadding uses tiny exponents so that values have leading zeros:
// both the public value (RFC 7296 §3.4) and g^ir (RFC 7296 §2.14) must be
// padded to the length of the prime.
func TestMODPPadding(t *testing.T) {
	g := modpGroupFor(ipsec.GroupMODP2048)
	k := newMODPFromExponent(g, big.NewInt(1))
	want := append(make([]byte, g.size-1), 2)
	if !bytes.Equal(k.PublicKey(), want) {
		t.Errorf("g^1 = %x", k.PublicKey())
	}
	peer := append(make([]byte, g.size-1), 5)
	s, err := k.SharedSecret(peer)
	if err != nil || !bytes.Equal(s, peer) {
		t.Errorf("5^1 = %x, %v", s, err)
	}
	k3 := newMODPFromExponent(g, big.NewInt(3))
	s, err = k3.SharedSecret(peer)
	if err != nil || len(s) != g.size || new(big.Int).SetBytes(s).Int64() != 125 {
		t.Errorf("5^3 = %x, %v", s, err)
	}
}

// TestMODPRejectsPeerValues checks the RFC 6989 §2.1 range 1 < y < p-1 and
// the RFC 7296 §3.4 length.
func TestMODPRejectsPeerValues(t *testing.T) {
	for _, id := range modpIDs {
		g := modpGroupFor(id)
		k, err := NewDH(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		pad := func(x *big.Int) []byte { return x.FillBytes(make([]byte, g.size)) }
		ok := pad(big.NewInt(2))
		bad := map[string][]byte{
			"0":          pad(big.NewInt(0)),
			"1":          pad(big.NewInt(1)),
			"p-1":        pad(g.pMinus1),
			"p":          pad(g.p),
			"p+1":        pad(new(big.Int).Add(g.p, big.NewInt(1))),
			"2^n-1":      bytes.Repeat([]byte{0xff}, g.size),
			"over-long":  append([]byte{0}, ok...),
			"short":      ok[1:],
			"empty":      nil,
			"over-long2": append(ok, 0),
		}
		for name, peer := range bad {
			if _, err := k.SharedSecret(peer); !errors.Is(err, ErrInvalidPublicKey) {
				t.Errorf("%s peer %s: err = %v", groupName(id), name, err)
			}
		}
		for _, y := range []*big.Int{big.NewInt(2), new(big.Int).Sub(g.pMinus1, big.NewInt(1))} {
			if _, err := k.SharedSecret(pad(y)); err != nil {
				t.Errorf("%s: valid peer %x rejected: %v", groupName(id), y, err)
			}
		}
	}
}

// TestMODPExponent checks the private exponent length and the use of the
// caller's random source.
func TestMODPExponent(t *testing.T) {
	r := bytes.NewReader(bytes.Repeat([]byte{0xa5}, 2*modpExponentBits/8))
	k, err := NewDH(ipsec.GroupMODP2048, r)
	if err != nil {
		t.Fatal(err)
	}
	x := k.(*modpKey).x
	if want := new(big.Int).SetBytes(bytes.Repeat([]byte{0xa5}, modpExponentBits/8)); x.Cmp(want) != 0 {
		t.Errorf("exponent %x not read from the given source", x)
	}
	// An exhausted source is an error, not a weak key.
	if _, err := NewDH(ipsec.GroupMODP2048, bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("short random source accepted")
	}
	// Zero and one are skipped.
	src := append(make([]byte, 2*modpExponentBits/8), bytes.Repeat([]byte{7}, modpExponentBits/8)...)
	src[modpExponentBits/8+modpExponentBits/8-1] = 1
	k, err = NewDH(ipsec.GroupMODP2048, bytes.NewReader(src))
	if err != nil || k.(*modpKey).x.Cmp(big.NewInt(2)) < 0 {
		t.Errorf("exponent below 2: %v", err)
	}
}
