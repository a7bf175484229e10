package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/crypto/cryptobyte"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
	"secgw/internal/ipsec"
)

// The HA record of an IKE SA: what the
// standby needs to take the SA and its child SAs over without a new
// IKE_SA_INIT. It is engine-private bytes: the sync channel (internal/ha)
// carries them sealed and never looks inside.
//
// Layout, version 1, every integer big-endian (cryptobyte):
//
//	u8  version (1)
//	u64 SPIi, u64 SPIr                       RFC 7296 §3.1
//	u16 flags (recFlag*)
//	u32 unique-id
//	u8<> VPN name
//	addrport local, addrport remote          u8<> address octets, u16 port
//	suite                                    u16 encr, keybits, integ, prf, group
//	u8<> additional key exchanges            u16 each (RFC 9370)
//	u16<> keymat                             SK_d|SK_ai|SK_ar|SK_ei|SK_er (§2.14)
//	u64 last AEAD IV                         RFC 5282 §3
//	u32 next request ID, u32 next expected ID (§2.2)
//	u32 our window, u32 peer's window        (§2.3)
//	u32 ID of the last response, u16<> its datagrams, each u16<>, as sent
//	                                         (§2.1: resent to a retransmitted
//	                                         request; none with no flag)
//	u8 ID type, u16<> ID data                the peer's proven identity
//	u8<> peer's additional addresses         u8<> each (RFC 4555 §3.6)
//	u64 established, last-in, rekey, reauth, expire, DPD: Unix ns, 0 none
//	virtual IPs (RFC 7296 §2.19; vip.go):
//	  u16<> leases we gave the peer, each u8<> pool, u16<> identity, address
//	  u8<> addresses the peer gave us, address they are installed on,
//	  u8<> DNS servers it named
//	u16<> child SAs, each u16<>:
//	  u8<> policy, u32 unique-id, u32 inbound SPI, u32 outbound SPI
//	  u8 flags (ESN), u8 mode, u8 state
//	  suite
//	  u8<> encr in, u8<> integ in, u8<> encr out, u8<> integ out (§2.17)
//	  u16<> local TS, u16<> remote TS        each u8 type, u8 proto,
//	                                         u16 start, u16 end, u8<> start
//	                                         address, u8<> end address, u16<> data
//	  u64 installed, rekey, expire: Unix ns, 0 none
//
// Times are wall-clock (the two nodes' engines have their own monotonic
// epochs): they carry over as well as the nodes' clocks agree (NTP).
// The keys are secrets: nothing here prints them (saRecord.String).

// recordVersion is the version of the layout above; a record of another
// version is refused (a pair runs one release).
const recordVersion = 1

// Flags of the IKE SA in a record.
const (
	recInitiator uint16 = 1 << iota
	recNATT
	recNATLocal
	recNATRemote
	recTCP
	recPPK
	recMOBIKE
	recMOBIKEInitiator
	recFragOK
	recPeerRedirect
	// recLastResp: the record carries the last response sent.
	recLastResp
)

// recChildESN is the child SA flag of ESN (RFC 4303 §2.2.1).
const recChildESN = 1

// errRecord is the error of a record that does not decode; it says what,
// never the bytes (they hold keys).
var errRecord = errors.New("engine: malformed HA record")

// saRecord is the decoded HA record of an IKE SA. It holds keys: its
// String and GoString print none, so that a %v in a log cannot leak them.
type saRecord struct {
	spii, spir uint64
	flags      uint16
	vpn        string
	local      netip.AddrPort
	remote     netip.AddrPort
	suite      ikecrypto.Suite
	addKEs     []ipsec.TransformID
	keymat     []byte
	lastIV     uint64
	nextID     uint32
	expectID   uint32
	ourWindow  uint32
	peerWindow uint32
	// lastRespID and lastResp are the last response sent, with
	// recLastResp: the peer may not have got it and retransmit its
	// request to the node that took over (RFC 7296 §2.1).
	lastRespID uint32
	lastResp   [][]byte
	peerID     config.Identity
	peerAddrs  []netip.Addr
	// Wall-clock Unix nanoseconds, 0 for none.
	established, lastIn, rekeyAt, reauthAt, expireAt, dpdAt int64
	// leases are the virtual IPs we gave the peer (pool, identity and
	// address; the pool's attributes went in IKE_AUTH's CFG_REPLY);
	// vips those the peer gave us, installed on vipsOn, and dns the DNS
	// servers it named.
	leases    []VIPLease
	vips, dns []netip.Addr
	vipsOn    netip.Addr
	children  []childRecord
	// uid is the unique-id of the SA in the operational state: both
	// nodes name it alike (SyncImport).
	uid uint32
}

// childRecord is a child SA in an saRecord.
type childRecord struct {
	policy        string
	inSPI, outSPI uint32
	esn           bool
	mode          config.Mode
	state         childState
	suite         ikecrypto.Suite
	in, out       DirKeys
	localTS       []ipsec.TrafficSelector
	remoteTS      []ipsec.TrafficSelector
	installed     int64
	rekeyAt       int64
	expireAt      int64
	// uid is the unique-id of the child SA.
	uid uint32
}

// String names the SA by its SPIs and VPN only: the record holds keys.
func (r *saRecord) String() string {
	return fmt.Sprintf("ike-sa %016x_i %016x_r vpn %s (%d child SAs)", r.spii, r.spir, r.vpn, len(r.children))
}

// GoString is String, for %#v.
func (r *saRecord) GoString() string { return r.String() }

// clearKeys wipes the keys of a record that is replaced or removed,
// rather than leave them in memory until the garbage collector reuses
// it. A record shares its child SAs' keys only with an SA that is gone
// (passivate) or that it became (restore, after which it is dropped
// uncleared).
func (r *saRecord) clearKeys() {
	clear(r.keymat)
	for i := range r.children {
		c := &r.children[i]
		for _, k := range [][]byte{c.in.Encr, c.in.Integ, c.out.Encr, c.out.Integ} {
			clear(k)
		}
	}
}

// initiator reports whether we are the original initiator of the SA.
func (r *saRecord) initiator() bool { return r.flags&recInitiator != 0 }

// ours is our SPI, the SA's key in the SA table.
func (r *saRecord) ours() uint64 {
	if r.initiator() {
		return r.spii
	}
	return r.spir
}

// marshal encodes the record (version 1), or returns nil when a field
// does not fit its length prefix (a VPN name over 255 octets: never one
// of a live SA). It appends to one buffer of the right size, patching
// the lengths of the lists after them: the active pays it under a
// worker lock after every exchange, where cryptobyte.Builder's closures
// would cost an allocation per field. parseRecord reads it with
// cryptobyte.
func (r *saRecord) marshal() []byte {
	e := recEncoder{b: make([]byte, 0, r.sizeHint())}
	e.u8(recordVersion)
	e.u64(r.spii)
	e.u64(r.spir)
	e.u16(r.flags)
	e.u32(r.uid)
	e.bytes8([]byte(r.vpn))
	e.addrPort(r.local)
	e.addrPort(r.remote)
	e.suite(r.suite)
	at := e.open8()
	for _, t := range r.addKEs {
		e.u16(uint16(t))
	}
	e.close8(at)
	e.bytes16(r.keymat)
	e.u64(r.lastIV)
	e.u32(r.nextID)
	e.u32(r.expectID)
	e.u32(r.ourWindow)
	e.u32(r.peerWindow)
	e.u32(r.lastRespID)
	at = e.open16()
	for _, m := range r.lastResp {
		e.bytes16(m)
	}
	e.close16(at)
	e.u8(uint8(r.peerID.Type))
	e.bytes16(r.peerID.Data)
	at = e.open8()
	for _, a := range r.peerAddrs {
		e.addr(a)
	}
	e.close8(at)
	for _, t := range [...]int64{r.established, r.lastIn, r.rekeyAt, r.reauthAt, r.expireAt, r.dpdAt} {
		e.u64(uint64(t))
	}
	at = e.open16()
	for _, l := range r.leases {
		e.bytes8([]byte(l.Pool))
		e.bytes16([]byte(l.Identity))
		e.addr(l.Addr)
	}
	e.close16(at)
	e.addrs8(r.vips)
	e.addr(r.vipsOn)
	e.addrs8(r.dns)
	at = e.open16()
	for i := range r.children {
		c := &r.children[i]
		ac := e.open16()
		c.marshal(&e)
		e.close16(ac)
	}
	e.close16(at)
	if e.bad {
		return nil
	}
	return e.b
}

// sizeHint is the record's encoded size or a little more, so that
// marshal allocates once.
func (r *saRecord) sizeHint() int {
	n := 128 + len(r.vpn) + len(r.keymat) + len(r.peerID.Data) + 17*(len(r.peerAddrs)+len(r.vips)+len(r.dns)) + 2*len(r.addKEs)
	for _, l := range r.leases {
		n += 20 + len(l.Pool) + len(l.Identity)
	}
	for _, m := range r.lastResp {
		n += 2 + len(m)
	}
	for i := range r.children {
		c := &r.children[i]
		n += 96 + len(c.policy) + len(c.in.Encr) + len(c.in.Integ) + len(c.out.Encr) + len(c.out.Integ)
		for _, t := range c.localTS {
			n += 48 + len(t.Data)
		}
		for _, t := range c.remoteTS {
			n += 48 + len(t.Data)
		}
	}
	return n
}

func (c *childRecord) marshal(e *recEncoder) {
	e.bytes8([]byte(c.policy))
	e.u32(c.uid)
	e.u32(c.inSPI)
	e.u32(c.outSPI)
	var f uint8
	if c.esn {
		f |= recChildESN
	}
	e.u8(f)
	e.u8(uint8(c.mode))
	e.u8(uint8(c.state))
	e.suite(c.suite)
	e.bytes8(c.in.Encr)
	e.bytes8(c.in.Integ)
	e.bytes8(c.out.Encr)
	e.bytes8(c.out.Integ)
	e.selectors(c.localTS)
	e.selectors(c.remoteTS)
	for _, t := range [...]int64{c.installed, c.rekeyAt, c.expireAt} {
		e.u64(uint64(t))
	}
}

// recEncoder appends the fields of a record; bad is set when a length
// does not fit its prefix.
type recEncoder struct {
	b   []byte
	bad bool
}

func (e *recEncoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *recEncoder) u16(v uint16) { e.b = binary.BigEndian.AppendUint16(e.b, v) }
func (e *recEncoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *recEncoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

// open8 and open16 reserve a length prefix; close8 and close16 set it to
// what was appended since.
func (e *recEncoder) open8() int  { e.b = append(e.b, 0); return len(e.b) }
func (e *recEncoder) open16() int { e.b = append(e.b, 0, 0); return len(e.b) }

func (e *recEncoder) close8(at int) {
	n := len(e.b) - at
	if n > 0xff {
		e.bad = true
	}
	e.b[at-1] = uint8(n)
}

func (e *recEncoder) close16(at int) {
	n := len(e.b) - at
	if n > 0xffff {
		e.bad = true
	}
	binary.BigEndian.PutUint16(e.b[at-2:], uint16(n))
}

func (e *recEncoder) bytes8(v []byte) {
	at := e.open8()
	e.b = append(e.b, v...)
	e.close8(at)
}

func (e *recEncoder) bytes16(v []byte) {
	at := e.open16()
	e.b = append(e.b, v...)
	e.close16(at)
}

func (e *recEncoder) addr(a netip.Addr) {
	if !a.IsValid() {
		e.u8(0)
		return
	}
	if a.Is4() {
		x := a.As4()
		e.u8(4)
		e.b = append(e.b, x[:]...)
		return
	}
	x := a.As16() // a zone is not carried
	e.u8(16)
	e.b = append(e.b, x[:]...)
}

func (e *recEncoder) addrs8(as []netip.Addr) {
	at := e.open8()
	for _, a := range as {
		e.addr(a)
	}
	e.close8(at)
}

func (e *recEncoder) addrPort(ap netip.AddrPort) {
	e.addr(ap.Addr())
	e.u16(ap.Port())
}

func (e *recEncoder) suite(s ikecrypto.Suite) {
	e.u16(uint16(s.Encr))
	e.u16(uint16(s.KeyBits))
	e.u16(uint16(s.Integ))
	e.u16(uint16(s.PRF))
	e.u16(uint16(s.Group))
}

func (e *recEncoder) selectors(ts []ipsec.TrafficSelector) {
	at := e.open16()
	for _, t := range ts {
		e.u8(uint8(t.Type))
		e.u8(t.IPProtocol)
		e.u16(t.StartPort)
		e.u16(t.EndPort)
		e.addr(t.StartAddr)
		e.addr(t.EndAddr)
		e.bytes16(t.Data)
	}
	e.close16(at)
}

// parseRecord decodes a record and checks what the engine relies on: a
// known version, SPIs, valid addresses, and keys of the lengths the
// suites need (the SA's key slicing and the dataplane trust them). The
// error never quotes the input.
func parseRecord(data []byte) (*saRecord, error) {
	s := cryptobyte.String(data)
	r := &saRecord{}
	var ver uint8
	if !s.ReadUint8(&ver) {
		return nil, fmt.Errorf("%w: empty", errRecord)
	}
	if ver != recordVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errRecord, ver, recordVersion)
	}
	var idType uint8
	var keymat, idData, addKEs, addrs, resp, leases, vips, dns, children cryptobyte.String
	ok := s.ReadUint64(&r.spii) && s.ReadUint64(&r.spir) && s.ReadUint16(&r.flags) && s.ReadUint32(&r.uid) &&
		readString8(&s, &r.vpn) && readAddrPort(&s, &r.local) && readAddrPort(&s, &r.remote) &&
		readSuite(&s, &r.suite) && s.ReadUint8LengthPrefixed(&addKEs) &&
		s.ReadUint16LengthPrefixed(&keymat) && s.ReadUint64(&r.lastIV) &&
		s.ReadUint32(&r.nextID) && s.ReadUint32(&r.expectID) && s.ReadUint32(&r.ourWindow) && s.ReadUint32(&r.peerWindow) &&
		s.ReadUint32(&r.lastRespID) && s.ReadUint16LengthPrefixed(&resp) && s.ReadUint8(&idType) && s.ReadUint16LengthPrefixed(&idData) && s.ReadUint8LengthPrefixed(&addrs)
	for _, t := range []*int64{&r.established, &r.lastIn, &r.rekeyAt, &r.reauthAt, &r.expireAt, &r.dpdAt} {
		ok = ok && readInt64(&s, t)
	}
	ok = ok && s.ReadUint16LengthPrefixed(&leases) && s.ReadUint8LengthPrefixed(&vips) && readAddr(&s, &r.vipsOn) &&
		s.ReadUint8LengthPrefixed(&dns) && s.ReadUint16LengthPrefixed(&children)
	if !ok || !s.Empty() {
		return nil, fmt.Errorf("%w: truncated or trailing octets", errRecord)
	}
	if len(addKEs)%2 != 0 {
		return nil, fmt.Errorf("%w: additional key exchanges", errRecord)
	}
	for !addKEs.Empty() {
		var t uint16
		addKEs.ReadUint16(&t)
		r.addKEs = append(r.addKEs, ipsec.TransformID(t))
	}
	for !resp.Empty() {
		var m cryptobyte.String
		if !resp.ReadUint16LengthPrefixed(&m) || len(m) == 0 {
			return nil, fmt.Errorf("%w: last response", errRecord)
		}
		r.lastResp = append(r.lastResp, append([]byte(nil), m...))
	}
	if (r.flags&recLastResp != 0) != (len(r.lastResp) > 0) || (len(r.lastResp) == 0 && r.lastRespID != 0) {
		return nil, fmt.Errorf("%w: last response flag", errRecord)
	}
	r.keymat = append([]byte(nil), keymat...)
	r.peerID = config.Identity{Type: wire.IDType(idType), Data: append([]byte(nil), idData...)}
	for !addrs.Empty() {
		var a netip.Addr
		if !readAddr(&addrs, &a) || !a.IsValid() {
			return nil, fmt.Errorf("%w: peer address", errRecord)
		}
		r.peerAddrs = append(r.peerAddrs, a)
	}
	for !leases.Empty() {
		var l VIPLease
		if !readString8(&leases, &l.Pool) || !readString16(&leases, &l.Identity) || !readAddr(&leases, &l.Addr) || !l.Addr.IsValid() {
			return nil, fmt.Errorf("%w: virtual IP lease", errRecord)
		}
		r.leases = append(r.leases, l)
	}
	for _, l := range []struct {
		s   *cryptobyte.String
		out *[]netip.Addr
	}{{&vips, &r.vips}, {&dns, &r.dns}} {
		for !l.s.Empty() {
			var a netip.Addr
			if !readAddr(l.s, &a) || !a.IsValid() {
				return nil, fmt.Errorf("%w: virtual IP", errRecord)
			}
			*l.out = append(*l.out, a)
		}
	}
	for !children.Empty() {
		var body cryptobyte.String
		var c childRecord
		if !children.ReadUint16LengthPrefixed(&body) || !c.parse(body) {
			return nil, fmt.Errorf("%w: child SA %d", errRecord, len(r.children))
		}
		if err := c.check(); err != nil {
			return nil, err
		}
		r.children = append(r.children, c)
	}
	return r, r.check()
}

// check validates the fields the engine uses without checking again.
func (r *saRecord) check() error {
	switch {
	case r.spii == 0 || r.spir == 0:
		return fmt.Errorf("%w: zero SPI", errRecord)
	case !r.local.Addr().IsValid() || !r.remote.Addr().IsValid():
		return fmt.Errorf("%w: addresses", errRecord)
	}
	kl, err := r.suite.IKEKeyLengths()
	if err != nil {
		return fmt.Errorf("%w: IKE suite: %v", errRecord, err)
	}
	if want := kl.PRF + 2*kl.Integ + 2*kl.Encr; len(r.keymat) != want {
		return fmt.Errorf("%w: IKE keys of %d octets, the suite needs %d", errRecord, len(r.keymat), want)
	}
	if _, err := r.suite.NewPRF(); err != nil {
		return fmt.Errorf("%w: IKE suite: %v", errRecord, err)
	}
	return nil
}

func (c *childRecord) parse(s cryptobyte.String) bool {
	var flags, mode, state uint8
	var keys [4]cryptobyte.String
	ok := readString8(&s, &c.policy) && s.ReadUint32(&c.uid) && s.ReadUint32(&c.inSPI) && s.ReadUint32(&c.outSPI) &&
		s.ReadUint8(&flags) && s.ReadUint8(&mode) && s.ReadUint8(&state) && readSuite(&s, &c.suite)
	for i := range keys {
		ok = ok && s.ReadUint8LengthPrefixed(&keys[i])
	}
	ok = ok && readSelectors(&s, &c.localTS) && readSelectors(&s, &c.remoteTS)
	for _, t := range []*int64{&c.installed, &c.rekeyAt, &c.expireAt} {
		ok = ok && readInt64(&s, t)
	}
	if !ok || !s.Empty() || mode > uint8(config.ModeTransport) || state > uint8(childDeleting) || flags&^recChildESN != 0 {
		return false
	}
	c.esn, c.mode, c.state = flags&recChildESN != 0, config.Mode(mode), childState(state)
	c.in = DirKeys{Encr: cloneOrNil(keys[0]), Integ: cloneOrNil(keys[1])}
	c.out = DirKeys{Encr: cloneOrNil(keys[2]), Integ: cloneOrNil(keys[3])}
	return true
}

// check validates a child SA's SPIs and key lengths against its suite.
func (c *childRecord) check() error {
	if c.inSPI < 256 || c.outSPI < 256 {
		return fmt.Errorf("%w: child SA SPI below 256 (RFC 4303 §2.1)", errRecord)
	}
	kl, err := c.suite.ESPKeyLengths()
	if err != nil {
		return fmt.Errorf("%w: child SA suite: %v", errRecord, err)
	}
	for _, k := range []DirKeys{c.in, c.out} {
		if len(k.Encr) != kl.Encr || len(k.Integ) != kl.Integ {
			return fmt.Errorf("%w: child SA keys do not fit the suite", errRecord)
		}
	}
	return nil
}

func cloneOrNil(s cryptobyte.String) []byte {
	if len(s) == 0 {
		return nil
	}
	return append([]byte(nil), s...)
}

func readInt64(s *cryptobyte.String, v *int64) bool {
	var u uint64
	if !s.ReadUint64(&u) {
		return false
	}
	*v = int64(u)
	return true
}

func readString16(s *cryptobyte.String, v *string) bool {
	var b cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&b) {
		return false
	}
	*v = string(b)
	return true
}

func readString8(s *cryptobyte.String, v *string) bool {
	var b cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&b) {
		return false
	}
	*v = string(b)
	return true
}

// readAddr reads an address of 0 (none), 4 or 16 octets.
func readAddr(s *cryptobyte.String, a *netip.Addr) bool {
	var b cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&b) {
		return false
	}
	switch len(b) {
	case 0:
		*a = netip.Addr{}
	case 4, 16:
		*a, _ = netip.AddrFromSlice(b)
	default:
		return false
	}
	return true
}

func readAddrPort(s *cryptobyte.String, ap *netip.AddrPort) bool {
	var a netip.Addr
	var port uint16
	if !readAddr(s, &a) || !s.ReadUint16(&port) {
		return false
	}
	*ap = netip.AddrPortFrom(a, port)
	return true
}

func readSuite(s *cryptobyte.String, su *ikecrypto.Suite) bool {
	var v [5]uint16
	for i := range v {
		if !s.ReadUint16(&v[i]) {
			return false
		}
	}
	*su = ikecrypto.Suite{Encr: ipsec.TransformID(v[0]), KeyBits: int(v[1]), Integ: ipsec.TransformID(v[2]),
		PRF: ipsec.TransformID(v[3]), Group: ipsec.TransformID(v[4])}
	return true
}

func readSelectors(s *cryptobyte.String, out *[]ipsec.TrafficSelector) bool {
	var list cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&list) {
		return false
	}
	for !list.Empty() {
		var t ipsec.TrafficSelector
		var typ uint8
		var data cryptobyte.String
		if !list.ReadUint8(&typ) || !list.ReadUint8(&t.IPProtocol) || !list.ReadUint16(&t.StartPort) ||
			!list.ReadUint16(&t.EndPort) || !readAddr(&list, &t.StartAddr) || !readAddr(&list, &t.EndAddr) ||
			!list.ReadUint16LengthPrefixed(&data) {
			return false
		}
		t.Type = ipsec.TSType(typ)
		t.Data = cloneOrNil(data)
		*out = append(*out, t)
	}
	return true
}
