package crypto

import (
	"fmt"
	"io"
	"math/big"
	"secgw/internal/ipsec"
	"sync"
)

// The MODP primes. Each is p = 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi]
// + k) with the k its RFC gives; the generator is 2. TestMODPPrimes
// recomputes them from that formula.
const (
	// 1024-bit MODP group 2, RFC 2409 §6.2 (also RFC 7296 Appendix B.2).
	modp1024 = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"

	// 1536-bit MODP group 5, RFC 3526 §2.
	modp1536 = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"

	// 2048-bit MODP group 14, RFC 3526 §3.
	modp2048 = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
		"3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"

	// 3072-bit MODP group 15, RFC 3526 §4.
	modp3072 = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
		"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
		"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
		"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
		"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
		"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"

	// 4096-bit MODP group 16, RFC 3526 §5.
	modp4096 = "" +
		"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74" +
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437" +
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05" +
		"98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB" +
		"9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
		"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718" +
		"3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33" +
		"A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7" +
		"ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864" +
		"D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2" +
		"08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7" +
		"88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8" +
		"DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2" +
		"233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9" +
		"93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF"
)

// modpExponentBits is the length of our private exponents. RFC 3526 §8
// asks for an exponent at least twice as long as the strength sought;
// 512 bits exceeds twice the largest strength estimate it gives for any of
// the groups supported here, and is much cheaper than a full-length one.
const modpExponentBits = 512

// modpGenerator is g = 2 for every MODP group (RFC 2409 §6.2, RFC 3526).
var modpGenerator = big.NewInt(2)

// modpGroup is a MODP group: the prime, p-1 and the octet length of p.
type modpGroup struct {
	id      ipsec.TransformID
	p       *big.Int
	pMinus1 *big.Int
	size    int
}

var modpGroups = sync.OnceValue(func() map[ipsec.TransformID]*modpGroup {
	m := make(map[ipsec.TransformID]*modpGroup)
	for id, hex := range map[ipsec.TransformID]string{
		ipsec.GroupMODP1024: modp1024,
		ipsec.GroupMODP1536: modp1536,
		ipsec.GroupMODP2048: modp2048,
		ipsec.GroupMODP3072: modp3072,
		ipsec.GroupMODP4096: modp4096,
	} {
		p, ok := new(big.Int).SetString(hex, 16)
		if !ok {
			panic("crypto: bad MODP prime for group " + groupName(id))
		}
		m[id] = &modpGroup{
			id:      id,
			p:       p,
			pMinus1: new(big.Int).Sub(p, big.NewInt(1)),
			size:    (p.BitLen() + 7) / 8,
		}
	}
	return m
})

// modpGroupFor returns the MODP group with the given ID, or nil.
func modpGroupFor(id ipsec.TransformID) *modpGroup { return modpGroups()[id] }

// modpKey implements DH for a MODP group.
//
// math/big exponentiation is not constant-time. Each private exponent is
// used for two exponentiations only (our public value and the shared
// secret) and then dropped, which leaves a timing attacker a single
// observation per exponent; prefer the elliptic curve groups where that
// matters.
type modpKey struct {
	g   *modpGroup
	x   *big.Int // private exponent
	pub []byte   // g^x mod p, padded to the length of p
}

func newMODP(g *modpGroup, r io.Reader) (*modpKey, error) {
	buf := make([]byte, modpExponentBits/8)
	x := new(big.Int)
	for x.Cmp(modpGenerator) < 0 { // x >= 2; a retry is practically never needed
		if _, err := io.ReadFull(randOrDefault(r), buf); err != nil {
			return nil, fmt.Errorf("crypto: generating %s exponent: %w", groupName(g.id), err)
		}
		x.SetBytes(buf)
	}
	clear(buf)
	return newMODPFromExponent(g, x), nil
}

// newMODPFromExponent builds the key pair for a given exponent; tests use
// it for fixed keys.
func newMODPFromExponent(g *modpGroup, x *big.Int) *modpKey {
	y := new(big.Int).Exp(modpGenerator, x, g.p)
	return &modpKey{g: g, x: x, pub: y.FillBytes(make([]byte, g.size))}
}

// Group implements DH.Group.
func (k *modpKey) Group() ipsec.TransformID { return k.g.id }

// PublicKey implements DH.PublicKey.
func (k *modpKey) PublicKey() []byte { return k.pub }

// SharedSecret implements DH.SharedSecret.
func (k *modpKey) SharedSecret(peer []byte) ([]byte, error) {
	// RFC 7296 §3.4: the Key Exchange Data of a MODP group is exactly as
	// long as the prime.
	if len(peer) != k.g.size {
		return nil, fmt.Errorf("%w: %s key exchange data of %d octets, want %d",
			ErrInvalidPublicKey, groupName(k.g.id), len(peer), k.g.size)
	}
	// RFC 6989 §2.1: 1 < y < p-1. This excludes 0, 1, p-1 (the element of
	// order two) and anything not reduced modulo p; for these safe primes
	// every other value lies in a subgroup of large order.
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(k.g.pMinus1) >= 0 {
		return nil, fmt.Errorf("%w: %s public value out of range", ErrInvalidPublicKey, groupName(k.g.id))
	}
	z := new(big.Int).Exp(y, k.x, k.g.p)
	// RFC 7296 §2.14: g^ir is padded with zeros to the length of the
	// modulus.
	return z.FillBytes(make([]byte, k.g.size)), nil
}
