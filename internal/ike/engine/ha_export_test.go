package engine

import (
	"encoding/binary"
	"net/netip"
)

// HARecordVariantForTest returns record rec made the i-th of many
// distinct IKE SAs (for the takeover benchmark): its IKE SPIs, child SA
// SPIs and peer address derive from i.
func HARecordVariantForTest(rec []byte, i uint32) ([]byte, error) {
	r, err := parseRecord(rec)
	if err != nil {
		return nil, err
	}
	r.spii, r.spir = uint64(i)<<32|0x1111, uint64(i)<<32|0x2222
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], 0x0a000000|i)
	r.remote = netip.AddrPortFrom(netip.AddrFrom4(a), r.remote.Port())
	for j := range r.children {
		r.children[j].inSPI = 0x10000000 | i<<4 | uint32(j)
		r.children[j].outSPI = 0x20000000 | i<<4 | uint32(j)
	}
	return r.marshal(), nil
}
