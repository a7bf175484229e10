package engine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// keyBytes returns n octets starting at b, counting up: recognisable
// keys.
func keyBytes(b byte, n int) []byte {
	k := make([]byte, n)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

// testRecord is a record with every field set: an AES-CBC/SHA-256 IKE
// SA behind a NAT with MOBIKE, a tunnel-mode AES-GCM child SA with ESN
// and an IPv6 transport-mode AES-CBC one being rekeyed.
func testRecord() *saRecord {
	ike := ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519}
	gcm := ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256}
	cbc := ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128}
	v4 := ipsec.SelectorFromPrefix(netip.MustParsePrefix("192.168.1.0/24"), 0, 0, 65535)
	v6 := ipsec.SelectorFromPrefix(netip.MustParsePrefix("2001:db8::/64"), 6, 443, 443)
	label := ipsec.TrafficSelector{Type: 10, IPProtocol: 1, Data: []byte("system_u:object_r")}
	return &saRecord{
		spii: 0x0102030405060708, spir: 0x1112131415161718, uid: 41,
		flags: recInitiator | recNATT | recNATLocal | recMOBIKE | recMOBIKEInitiator | recFragOK | recPPK | recLastResp,
		vpn:   "branch-42", local: netip.MustParseAddrPort("10.0.0.1:4500"), remote: netip.MustParseAddrPort("[2001:db8::2]:4500"),
		suite: ike, addKEs: []ipsec.TransformID{ipsec.GroupMLKEM768}, keymat: keyBytes(0x20, 5*32),
		lastIV: 0xfffffffffffffff0, nextID: 7, expectID: 9, ourWindow: 4, peerWindow: 8,
		lastRespID: 8, lastResp: [][]byte{keyBytes(0xa0, 60), keyBytes(0xb0, 20)},
		peerID:      config.Identity{Type: wire.IDFQDN, Data: []byte("peer.example")},
		peerAddrs:   []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")},
		established: 1_700_000_000_000_000_000, lastIn: 1_700_000_100_000_000_000,
		rekeyAt: 1_700_014_000_000_000_000, expireAt: 1_700_015_000_000_000_000, dpdAt: 1_700_000_130_000_000_000,
		leases: []VIPLease{{Pool: "rw", Identity: "alice@example.com", Addr: netip.MustParseAddr("10.9.0.7")},
			{Pool: "rw6", Identity: "alice@example.com", Addr: netip.MustParseAddr("fd00::7")}},
		vips: []netip.Addr{netip.MustParseAddr("10.8.0.2")}, vipsOn: netip.MustParseAddr("10.0.0.1"),
		dns: []netip.Addr{netip.MustParseAddr("10.8.0.53")},
		children: []childRecord{
			{policy: "net", uid: 42, inSPI: 0xc0000001, outSPI: 0xd0000001, esn: true, mode: config.ModeTunnel, state: childInstalled,
				suite: gcm, in: DirKeys{Encr: keyBytes(0x40, 36)}, out: DirKeys{Encr: keyBytes(0x80, 36)},
				localTS: []ipsec.TrafficSelector{v4}, remoteTS: []ipsec.TrafficSelector{v4, label},
				installed: 1_700_000_000_000_000_000, rekeyAt: 1_700_003_000_000_000_000, expireAt: 1_700_003_600_000_000_000},
			{policy: "v6", uid: 43, inSPI: 0xc0000002, outSPI: 0xd0000002, mode: config.ModeTransport, state: childRekeying,
				suite: cbc, in: DirKeys{Encr: keyBytes(1, 16), Integ: keyBytes(2, 32)}, out: DirKeys{Encr: keyBytes(3, 16), Integ: keyBytes(4, 32)},
				localTS: []ipsec.TrafficSelector{v6}, remoteTS: []ipsec.TrafficSelector{v6}, installed: 1_700_000_500_000_000_000},
		},
	}
}

// TestRecordRoundTrip: a record decodes to what was encoded.
func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []*saRecord{testRecord(), func() *saRecord {
		r := testRecord() // responder, no child SA, no peer address
		r.flags, r.children, r.peerAddrs, r.addKEs, r.lastResp, r.lastRespID = 0, nil, nil, nil, nil, 0
		r.leases, r.vips, r.vipsOn, r.dns = nil, nil, netip.Addr{}, nil
		return r
	}()} {
		b := r.marshal()
		if b == nil {
			t.Fatal("marshal failed")
		}
		got, err := parseRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got.children, r.children)
		}
		if again := got.marshal(); !bytes.Equal(again, b) {
			t.Fatal("re-encoding differs")
		}
	}
}

// TestRecordTruncated: no proper prefix of a record decodes.
func TestRecordTruncated(t *testing.T) {
	b := testRecord().marshal()
	for n := range len(b) {
		if _, err := parseRecord(b[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d octets decodes", n, len(b))
		}
	}
}

// TestRecordGarbage: records that encode what the engine cannot use are
// refused, and the errors quote no key.
func TestRecordGarbage(t *testing.T) {
	for name, mod := range map[string]func(r *saRecord, b []byte) []byte{
		"trailing octet":   func(r *saRecord, b []byte) []byte { return append(b, 0) },
		"version 2":        func(r *saRecord, b []byte) []byte { b[0] = 2; return b },
		"zero SPI":         func(r *saRecord, _ []byte) []byte { r.spir = 0; return r.marshal() },
		"no address":       func(r *saRecord, _ []byte) []byte { r.remote = netip.AddrPort{}; return r.marshal() },
		"short IKE keys":   func(r *saRecord, _ []byte) []byte { r.keymat = r.keymat[:100]; return r.marshal() },
		"unknown IKE encr": func(r *saRecord, _ []byte) []byte { r.suite.Encr = 99; return r.marshal() },
		"unknown PRF":      func(r *saRecord, _ []byte) []byte { r.suite.PRF = 99; return r.marshal() },
		"child SPI 255":    func(r *saRecord, _ []byte) []byte { r.children[0].outSPI = 255; return r.marshal() },
		"child keys":       func(r *saRecord, _ []byte) []byte { r.children[1].in.Integ = nil; return r.marshal() },
		"child mode":       func(r *saRecord, _ []byte) []byte { r.children[0].mode = 7; return r.marshal() },
		"child state":      func(r *saRecord, _ []byte) []byte { r.children[0].state = 9; return r.marshal() },
		"response no flag": func(r *saRecord, _ []byte) []byte { r.flags &^= recLastResp; return r.marshal() },
		"flag no response": func(r *saRecord, _ []byte) []byte { r.lastResp = nil; return r.marshal() },
		"child suite":      func(r *saRecord, _ []byte) []byte { r.children[0].suite.Encr = 99; return r.marshal() },
	} {
		r := testRecord()
		b := mod(r, r.marshal())
		_, err := parseRecord(b)
		if err == nil {
			t.Errorf("%s: decodes", name)
			continue
		}
		if !errors.Is(err, errRecord) {
			t.Errorf("%s: %v is not errRecord", name, err)
		}
		for _, k := range [][]byte{r.keymat[:8], r.children[0].in.Encr[:8]} {
			if strings.Contains(err.Error(), hex.EncodeToString(k)) || strings.Contains(err.Error(), string(k)) {
				t.Errorf("%s: the error quotes a key: %v", name, err)
			}
		}
	}
}

// TestRecordPrintsNoKeys: a record printed by fmt shows no key.
func TestRecordPrintsNoKeys(t *testing.T) {
	r := testRecord()
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%v %+v %#v %s", r, r, r, r)} {
		for _, k := range [][]byte{r.keymat[:8], r.children[0].in.Encr[:8], r.children[1].out.Integ[:8]} {
			if strings.Contains(s, hex.EncodeToString(k)) || strings.Contains(s, fmt.Sprint(k[:4])[1:8]) {
				t.Fatalf("printed record shows a key: %s", s)
			}
		}
	}
}

// FuzzSARecord: whatever decodes encodes back to the same octets and
// decodes again to the same record; nothing panics.
func FuzzSARecord(f *testing.F) {
	f.Add(testRecord().marshal())
	r := testRecord()
	r.children = nil
	f.Add(r.marshal())
	f.Add([]byte{recordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRecord(b)
		if err != nil {
			return
		}
		again := r.marshal()
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
		r2, err := parseRecord(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("second decode: %v", err)
		}
	})
}

// BenchmarkRecordMarshal is the active's cost of one record (two child
// SAs), paid under the worker lock after each completed exchange.
func BenchmarkRecordMarshal(b *testing.B) {
	r := testRecord()
	b.ReportAllocs()
	for b.Loop() {
		r.marshal()
	}
}

// BenchmarkRecordParse is the standby's cost of one record (SyncImport
// less the map).
func BenchmarkRecordParse(b *testing.B) {
	raw := testRecord().marshal()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := parseRecord(raw); err != nil {
			b.Fatal(err)
		}
	}
}
