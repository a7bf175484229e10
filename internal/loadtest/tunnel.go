package loadtest

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"secgw/internal/ipsec"
	"sync"
	"time"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
)

// Phases of a tunnel.
const (
	phaseInit  = iota // IKE_SA_INIT request outstanding
	phaseInter        // an IKE_INTERMEDIATE request outstanding (RFC 9242)
	phaseAuth         // IKE_AUTH request outstanding
	phaseUp           // established, held for the soak
	phaseDone         // finished (failed, or established and not held)
)

const nonceLen = 32

// errDrop tells the caller to ignore the message and keep waiting.
var errDrop = errors.New("loadtest: message dropped")

// failure is why a tunnel failed: the exchange and a reason, counted
// together in the Report ("IKE_AUTH: AUTHENTICATION_FAILED").
type failure struct{ phase, reason string }

// Error returns "exchange: reason", the Report's key.
func (f *failure) Error() string { return f.phase + ": " + f.reason }

func failf(phase, format string, args ...any) error {
	return &failure{phase: phase, reason: fmt.Sprintf(format, args...)}
}

// reason returns the Report key of err.
func reason(err error) string {
	var f *failure
	if errors.As(err, &f) {
		return f.Error()
	}
	return err.Error()
}

// tunnel is one IKE SA the generator initiates. Its fields are guarded by
// mu: the socket reader that receives a response, the retransmission
// timer and the soak's sweeper all lock it. The methods named handle* and
// *Request are the protocol, free of sockets and time, so that tests and
// benchmarks can run them against an in-process engine.
type tunnel struct {
	mu    sync.Mutex
	idx   int
	phase int
	// gen numbers the retransmission timer armed last; a timer that fires
	// with another number is stale.
	gen int

	spii, spir    uint64
	local, remote netip.AddrPort
	// vip is the virtual IP the responder gave (Profile.VIP).
	vip  netip.Addr
	sock *socket

	dh     ikecrypto.DH
	ni, nr []byte
	cookie []byte
	// cookieRounds counts the COOKIE challenges followed.
	cookieRounds int
	initReq      []byte // IKE_SA_INIT request as sent: AUTH signs it (RFC 7296 §2.15)
	initResp     []byte // IKE_SA_INIT response as received
	keys         *ikecrypto.IKEKeys
	prf          ikecrypto.PRF
	out, in      ikecrypto.SKCipher
	childSPI     uint32
	// mid is the Message ID of the outstanding IKE_INTERMEDIATE or
	// IKE_AUTH request.
	mid uint32

	// The additional key exchanges (RFC 9370): addKE is the index in
	// Profile.AddKE of the one in progress, ke its initiator's side,
	// interPlain and interFirst the inner payloads of its IKE_INTERMEDIATE
	// request as sent, and intAuthI and intAuthR the IntAuth chains of the
	// exchanges done (RFC 9242 §3.3.2), nil before the first.
	addKE              int
	ke                 ikecrypto.DH
	interPlain         []byte
	interFirst         wire.PayloadType
	intAuthI, intAuthR []byte
	// peerHashes are the responder's SIGNATURE_HASH_ALGORITHMS (RFC
	// 7427 §4), for a certificate run.
	peerHashes []wire.HashAlgorithm

	// req is the outstanding request, resent on timeout; tries counts
	// the retransmissions so far; timer is the pending retransmission.
	req   []byte
	tries int
	timer interface{ Stop() bool }
	start time.Time

	soakState
}

// newTunnel prepares tunnel i: SPIi, Ni and the key exchange (RFC 7296
// §1.2, §2.10).
func newTunnel(p *Profile, i int, local, remote netip.AddrPort, rand io.Reader) (*tunnel, error) {
	t := &tunnel{idx: i, local: local, remote: remote, ni: make([]byte, nonceLen)}
	var b [12]byte
	for t.spii == 0 || t.childSPI < 256 {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("loadtest: random: %w", err)
		}
		t.spii = binary.BigEndian.Uint64(b[:8])
		t.childSPI = binary.BigEndian.Uint32(b[8:]) // RFC 4303 §2.1: 1-255 reserved
	}
	if _, err := io.ReadFull(rand, t.ni); err != nil {
		return nil, fmt.Errorf("loadtest: random: %w", err)
	}
	dh, err := ikecrypto.NewDH(p.Suite.Group, rand)
	if err != nil {
		return nil, err
	}
	t.dh = dh
	return t, nil
}

// initRequest builds the IKE_SA_INIT request (RFC 7296 §1.2, RFC 9242
// §3.2):
//
//	HDR, [N(COOKIE)], SA, KEi, Ni, [N(INTERMEDIATE_EXCHANGE_SUPPORTED)],
//	[N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP)]  -->
//
// and keeps it as sent, for AUTH.
func (t *tunnel) initRequest(p *Profile) ([]byte, error) {
	var ps []wire.Payload
	if t.cookie != nil {
		// RFC 7296 §2.6: the COOKIE notify comes first.
		ps = append(ps, wire.NewNotify(wire.NotifyCookie, t.cookie))
	}
	ps = append(ps, &wire.SA{Proposals: []wire.Proposal{p.IKE}},
		&wire.KE{Group: p.Suite.Group, Data: t.dh.PublicKey()},
		&wire.Nonce{Data: t.ni})
	if len(p.AddKE) > 0 {
		// RFC 9242 §3.2: the IKE_INTERMEDIATE exchanges the additional
		// key exchanges need (RFC 9370 §2.2.1).
		ps = append(ps, wire.NewNotify(wire.NotifyIntermediateExchangeSupported, nil))
	}
	if p.Cert != nil {
		ps = append(ps, p.Cert.initPayloads()...) // cert.go
	}
	if p.NATD {
		ps = append(ps, wire.NewNotify(wire.NotifyNATDetectionSourceIP, natdHash(t.spii, 0, t.local)),
			wire.NewNotify(wire.NotifyNATDetectionDestinationIP, natdHash(t.spii, 0, t.remote)))
	}
	h := wire.Header{SPIi: t.spii, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit,
		Flags: wire.FlagInitiator}
	raw, err := (&wire.Message{Header: h, Payloads: ps}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	t.initReq = raw
	return raw, nil
}

// natdHash is SHA-1(SPIi | SPIr | IP | Port) (RFC 7296 §2.23).
func natdHash(spii, spir uint64, ap netip.AddrPort) []byte {
	var b [16 + 16 + 2]byte
	binary.BigEndian.PutUint64(b[:], spii)
	binary.BigEndian.PutUint64(b[8:], spir)
	n := copy(b[16:], ap.Addr().Unmap().AsSlice())
	binary.BigEndian.PutUint16(b[16+n:], ap.Port())
	sum := sha1.Sum(b[:16+n+2])
	return sum[:]
}

// handleInitResponse processes the IKE_SA_INIT response. It returns the
// next request to send: the IKE_SA_INIT request again with the cookie
// the responder asked for (restart true, RFC 7296 §2.6), or the IKE_AUTH
// request. An error notification or an answer we cannot use fails the
// tunnel.
func (t *tunnel) handleInitResponse(p *Profile, m *wire.Message) (next []byte, restart bool, err error) {
	const phase = "IKE_SA_INIT"
	ps := wire.SkipUnknown(m.Payloads)
	if n := wire.FindNotify(ps, wire.NotifyCookie); n != nil {
		switch {
		case bytes.Equal(n.Data, t.cookie):
			// The answer to a retransmission of the request without the
			// cookie, overtaken by the one we already followed.
			return nil, false, errDrop
		case t.cookieRounds >= 3:
			return nil, false, failf(phase, "COOKIE asked %d times", t.cookieRounds+1)
		}
		// A first challenge, or a new one after the responder changed
		// its secret (RFC 7296 §2.6).
		t.cookieRounds++
		t.cookie = bytes.Clone(n.Data)
		next, err = t.initRequest(p)
		return next, true, err
	}
	if n := wire.FirstError(ps); n != nil {
		return nil, false, failf(phase, "%s", n.NotifyType)
	}
	sa := find[*wire.SA](ps)
	ke := find[*wire.KE](ps)
	nr := find[*wire.Nonce](ps)
	if sa == nil || ke == nil || nr == nil || m.Header.SPIr == 0 {
		return nil, false, failf(phase, "response lacks SA, KE, Nr or SPIr")
	}
	// One proposal was offered, so an accepted one implies p.Suite.
	if _, ok := proposal.Single([]wire.Proposal{p.IKE}, sa.Proposals); !ok || ke.Group != p.Suite.Group {
		return nil, false, failf(phase, "responder chose a proposal we did not offer")
	}
	t.spir = m.Header.SPIr
	t.nr = bytes.Clone(nr.Data)
	if n := wire.FindNotify(ps, wire.NotifySignatureHashAlgorithms); n != nil {
		t.peerHashes, _ = n.HashAlgorithms()
	}
	t.initResp = m.Raw
	gir, err := t.dh.SharedSecret(ke.Data)
	if err != nil {
		return nil, false, failf(phase, "bad KEr: %v", err)
	}
	keys, err := ikecrypto.NewIKEKeys(p.Suite, gir, t.ni, t.nr, t.spii, t.spir)
	clear(gir)
	if err != nil {
		return nil, false, failf(phase, "keys: %v", err)
	}
	out, in, err := keys.Ciphers(p.Suite, true)
	if err != nil {
		return nil, false, failf(phase, "ciphers: %v", err)
	}
	t.keys, t.out, t.in = keys, out, in
	t.prf, _ = p.Suite.NewPRF()
	t.dh = nil
	if len(p.AddKE) > 0 {
		// RFC 9370 §2.2.1: the additional key exchanges run in
		// IKE_INTERMEDIATE exchanges, which both sides announce (RFC 9242
		// §3.2).
		if wire.FindNotify(ps, wire.NotifyIntermediateExchangeSupported) == nil {
			return nil, false, failf(phase, "responder accepted additional key exchanges without INTERMEDIATE_EXCHANGE_SUPPORTED")
		}
		next, err = t.intermediateRequest(p)
		return next, false, err
	}
	next, err = t.authRequest(p)
	return next, false, err
}

// intermediateRequest builds the IKE_INTERMEDIATE request of additional
// key exchange t.addKE (RFC 9370 §2.2.1), with Message ID 1, 2, ... (RFC
// 9242 §3.1), protected with the keys of the exchange before:
//
//	HDR, SK {KEi(n)}  -->
func (t *tunnel) intermediateRequest(p *Profile) ([]byte, error) {
	group := p.AddKE[t.addKE]
	ke, err := ikecrypto.NewKE(group, nil)
	if err != nil {
		return nil, failf("IKE_INTERMEDIATE", "%v", err)
	}
	t.ke = ke
	t.mid = uint32(1 + t.addKE)
	t.interPlain, t.interFirst, err = wire.AppendPayloadChain(nil, []wire.Payload{&wire.KE{Group: group, Data: ke.PublicKey()}})
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	return t.sealPlain(wire.ExchangeIKEIntermediate, t.mid, false, t.interPlain, t.interFirst)
}

// handleIntermediateResponse processes the IKE_INTERMEDIATE response of
// additional key exchange t.addKE: it adds both messages to the IntAuth
// chains with the SK_pi and SK_pr that protected them (RFC 9242 §3.3.2),
// derives the keys of the new shared secret from SK_d (RFC 9370 §2.2.2)
// and returns the next request: the next IKE_INTERMEDIATE (auth false) or
// IKE_AUTH (auth true).
func (t *tunnel) handleIntermediateResponse(p *Profile, m *wire.Message) (next []byte, auth bool, err error) {
	const phase = "IKE_INTERMEDIATE"
	if len(m.Payloads) > 0 {
		if _, ok := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment); ok {
			// RFC 7383 §2.3: the generator never announces
			// IKEV2_FRAGMENTATION_SUPPORTED, so the responder must not
			// fragment.
			return nil, false, failf(phase, "fragmented response (fragmentation was not negotiated)")
		}
	}
	ps, plain, first, err := openPlain(t.in, m)
	if err != nil {
		return nil, false, errDrop // RFC 7296 §2.21, as in handleAuthResponse
	}
	if n := wire.FirstError(ps); n != nil {
		return nil, false, failf(phase, "%s", n.NotifyType)
	}
	group := p.AddKE[t.addKE]
	ke := find[*wire.KE](ps)
	if ke == nil || ke.Group != group {
		return nil, false, failf(phase, "response without the KE payload of %s", ipsec.TransformName(ipsec.TransformKE, group))
	}
	secret, err := t.ke.SharedSecret(ke.Data)
	if err != nil {
		return nil, false, failf(phase, "bad KEr: %v", err)
	}
	req := wire.Header{SPIi: t.spii, SPIr: t.spir, MajorVersion: wire.MajorVersion,
		Exchange: wire.ExchangeIKEIntermediate, Flags: wire.FlagInitiator, MessageID: t.mid}
	t.intAuthI = ikecrypto.IntAuth(t.prf, t.keys.SKpi, t.intAuthI, ikecrypto.IntAuthA(req, t.interFirst, len(t.interPlain)), t.interPlain)
	t.intAuthR = ikecrypto.IntAuth(t.prf, t.keys.SKpr, t.intAuthR, ikecrypto.IntAuthA(m.Header, first, len(plain)), plain)
	keys, err := ikecrypto.AdditionalKEKeys(t.prf, t.keys.SKd, p.Suite, secret, t.ni, t.nr, t.spii, t.spir)
	clear(secret)
	if err != nil {
		return nil, false, failf(phase, "keys: %v", err)
	}
	out, in, err := keys.Ciphers(p.Suite, true)
	if err != nil {
		return nil, false, failf(phase, "ciphers: %v", err)
	}
	t.keys.Clear()
	t.keys, t.out, t.in = keys, out, in
	t.ke, t.interPlain = nil, nil
	t.addKE++
	if t.addKE < len(p.AddKE) {
		next, err = t.intermediateRequest(p)
		return next, false, err
	}
	next, err = t.authRequest(p)
	return next, true, err
}

// signedOctets returns the signed octets of an AUTH payload
// (crypto.SignedOctets) followed, after IKE_INTERMEDIATE exchanges, by
// IntAuth (RFC 9242 §3.3.2) with the Message ID of our IKE_AUTH request.
func (t *tunnel) signedOctets(skp, realMessage, peerNonce, idBody []byte) []byte {
	so := ikecrypto.SignedOctets(t.prf, skp, realMessage, peerNonce, idBody)
	if t.intAuthI == nil {
		return so
	}
	return ikecrypto.AppendIntAuth(so, t.intAuthI, t.intAuthR, t.mid)
}

// authRequest builds the IKE_AUTH request with the first child SA (RFC
// 7296 §1.2, §2.15):
//
//	HDR, SK {IDi, AUTH, SAi2, TSi, TSr}  -->
func (t *tunnel) authRequest(p *Profile) ([]byte, error) {
	idi, err := p.identity(t.idx)
	if err != nil {
		return nil, err
	}
	t.mid = uint32(1 + len(p.AddKE))
	body, _ := idi.AppendBody(nil)
	var ps []wire.Payload
	if p.Cert != nil {
		if ps, err = p.Cert.authPayloads(t, t.peerHashes); err != nil { // cert.go
			return nil, err
		}
	} else {
		auth := ikecrypto.AuthPSK(t.prf, p.PSK, t.signedOctets(t.keys.SKpi, t.initReq, t.nr, body))
		ps = []wire.Payload{idi, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: auth}}
	}
	if p.VIP {
		ps = append(ps, &wire.Configuration{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{
			{Type: wire.CPInternalIP4Address}, {Type: wire.CPInternalIP4DNS}}})
	}
	if !p.Childless {
		esp := p.ESP
		esp.SPI = binary.BigEndian.AppendUint32(nil, t.childSPI)
		ps = append(ps,
			&wire.SA{Proposals: []wire.Proposal{esp}},
			&wire.TrafficSelectors{Selectors: []ipsec.TrafficSelector{p.tsi(t.idx)}},
			&wire.TrafficSelectors{Responder: true, Selectors: []ipsec.TrafficSelector{
				ipsec.SelectorFromPrefix(p.RemoteTS, 0, 0, 65535)}})
	}
	return t.seal(wire.ExchangeIKEAuth, t.mid, false, ps)
}

// handleAuthResponse verifies the responder's AUTH (RFC 7296 §2.15) and
// the child SA it accepted (§2.9: it may only narrow). nil means the IKE
// SA and its first child SA are up.
func (t *tunnel) handleAuthResponse(p *Profile, m *wire.Message) error {
	const phase = "IKE_AUTH"
	ps, err := open(t.in, m)
	if err != nil {
		// RFC 7296 §2.21: what does not authenticate may be forged; it
		// is dropped and the request retransmitted.
		return errDrop
	}
	idr := find[*wire.Identification](ps)
	auth := find[*wire.Auth](ps)
	if idr == nil || auth == nil {
		if n := wire.FirstError(ps); n != nil {
			return failf(phase, "%s", n.NotifyType)
		}
		return failf(phase, "response lacks IDr or AUTH")
	}
	so := t.signedOctets(t.keys.SKpr, t.initResp, t.ni, idr.SignedOctets())
	if p.Cert != nil {
		if err := p.Cert.verify(ps, auth, so); err != nil { // cert.go
			return failf(phase, "responder certificate or AUTH: %v", err)
		}
	} else if auth.Method != wire.AuthSharedKeyMIC || !ikecrypto.VerifyAuthPSK(t.prf, p.PSK, so, auth.Data) {
		return failf(phase, "responder AUTH does not verify")
	}
	if p.VIP {
		if n := wire.FindNotify(ps, wire.NotifyInternalAddressFailure); n != nil {
			return failf(phase, "%s", n.NotifyType)
		}
		cp := find[*wire.Configuration](ps)
		if cp != nil && cp.CFGType == wire.CFGReply {
			for _, a := range cp.Attributes {
				if v, ok := a.Addr(); ok && a.Type == wire.CPInternalIP4Address {
					t.vip = v
				}
			}
		}
		if !t.vip.IsValid() {
			return failf(phase, "no virtual IP in the response")
		}
	}
	if p.Childless {
		return nil
	}
	// RFC 7296 §2.21.3: a refused child leaves the IKE SA up; the run
	// counts it as a failed tunnel all the same.
	if n := wire.FirstError(ps); n != nil {
		return failf("child", "%s", n.NotifyType)
	}
	sa := find[*wire.SA](ps)
	if sa == nil || find[*wire.TrafficSelectors](ps) == nil {
		return failf("child", "no child SA in the response")
	}
	chosen, ok := proposal.Single([]wire.Proposal{p.ESP}, sa.Proposals)
	if !ok || len(chosen.SPI) != 4 {
		return failf("child", "responder chose an ESP proposal we did not offer")
	}
	t.peerChildSPI = binary.BigEndian.Uint32(chosen.SPI)
	return nil
}

// settle drops what only the setup needed, once the tunnel is up: a held
// tunnel keeps its SPIs, SK ciphers and message IDs.
func (t *tunnel) settle() {
	if t.keys != nil {
		t.keys.Clear()
	}
	t.keys, t.dh, t.ni, t.nr, t.cookie, t.initReq, t.initResp, t.req = nil, nil, nil, nil, nil, nil, nil, nil
	t.ke, t.interPlain, t.intAuthI, t.intAuthR = nil, nil, nil, nil
	// IKE_SA_INIT, the IKE_INTERMEDIATE exchanges and IKE_AUTH used 0 to
	// t.mid (RFC 7296 §2.2).
	t.nextID = t.mid + 1
}

// seal builds a protected message of the tunnel's IKE SA (RFC 7296
// §3.14): header and SK payload header whose lengths count the sealed
// body, then IV | ciphertext | ICV appended by the cipher. The original
// initiator sets the I flag on every message it sends (§3.1).
func (t *tunnel) seal(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([]byte, error) {
	plain, first, err := wire.AppendPayloadChain(nil, ps)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	return t.sealPlain(exch, id, response, plain, first)
}

// sealPlain is seal with the inner payloads already encoded: plain, whose
// first payload has type first.
func (t *tunnel) sealPlain(exch wire.ExchangeType, id uint32, response bool, plain []byte, first wire.PayloadType) ([]byte, error) {
	return sealSA(t.out, t.spii, t.spir, exch, id, response, plain, first)
}

// sealSA is sealPlain for the IKE SA of SPIs spii, spir whose outbound
// SK cipher is out.
func sealSA(out ikecrypto.SKCipher, spii, spir uint64, exch wire.ExchangeType, id uint32, response bool, plain []byte, first wire.PayloadType) ([]byte, error) {
	flags := wire.FlagInitiator
	if response {
		flags |= wire.FlagResponse
	}
	h := wire.Header{SPIi: spii, SPIr: spir, MajorVersion: wire.MajorVersion, Exchange: exch, Flags: flags, MessageID: id}
	n := out.SealedLen(len(plain))
	raw, err := (&wire.Message{Header: h, Payloads: []wire.Payload{&wire.Encrypted{NextPayload: first, Body: make([]byte, n)}}}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	aad := raw[:len(raw)-n]
	return out.Seal(aad, aad, plain)
}

// open authenticates and decrypts a protected message and returns its
// inner payloads without the unknown non-critical ones (RFC 7296 §3.14,
// §2.5).
func open(in ikecrypto.SKCipher, m *wire.Message) ([]wire.Payload, error) {
	ps, _, _, err := openPlain(in, m)
	return ps, err
}

// openPlain is open that also returns the inner payloads in clear and
// the type of the first, for IntAuth (RFC 9242 §3.3.2).
func openPlain(in ikecrypto.SKCipher, m *wire.Message) (ps []wire.Payload, plain []byte, first wire.PayloadType, err error) {
	if len(m.Payloads) == 0 {
		return nil, nil, 0, errors.New("not protected")
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	off := m.EncryptedBodyOffset()
	if !ok || off < 0 {
		return nil, nil, 0, errors.New("not protected")
	}
	plain, err = in.Open(nil, m.Raw[:off], sk.Body)
	if err != nil {
		return nil, nil, 0, err
	}
	ps, err = wire.ParsePayloadChain(sk.NextPayload, plain)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := wire.CheckCritical(ps); err != nil {
		return nil, nil, 0, err
	}
	return wire.SkipUnknown(ps), plain, sk.NextPayload, nil
}

func find[T wire.Payload](ps []wire.Payload) T {
	var zero T
	for _, p := range ps {
		if t, ok := p.(T); ok {
			return t
		}
	}
	return zero
}
