package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"secgw/internal/ipsec"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// saState is where an IKE SA is in its life; String is in
// sastate_string.go.
type saState uint8

//go:generate go tool stringer -type=saState -linecomment

const (
	// IKE_SA_INIT in progress or done, not authenticated.
	stateInit saState = iota // init
	// IKE_AUTH in progress (initiator).
	stateAuth // auth
	// Authenticated.
	stateEstablished // established
	// Removed from the table.
	stateDeleted // deleted
)

// ikeSA is one IKE SA. It is checked out to its worker w (and w.e is its
// Engine) for its whole life: every field is only read or written with
// w.mu held, but for w, id and uid, which never change once the SA is in
// the table.
//
// The struct is kept small (≤ 4 KB per established IKE SA with
// one child SA, 100k of them): no logger (saLogger builds one when a
// message is logged), no cipher objects (built from the keys on use), no
// runtime timers (deadlines in at, one slot in the worker's heap), and
// what only IKE_SA_INIT and IKE_AUTH need (the IKE_SA_INIT messages, the
// nonces, the candidate VPNs) is dropped once the SA is established.
type ikeSA struct {
	w *worker
	// id is our SPI, the key in the SA table.
	id         uint64
	spii, spir uint64
	// tnext chains the SA table's bucket; wprev and wnext the worker's
	// list; hidx and wake place it in the worker's timer heap.
	tnext, wprev, wnext *ikeSA
	hidx                int32
	// vprev and vnext chain the SAs of one VPN on the worker, and
	// vkey is that VPN's name ("" for a responder SA that has not
	// picked one yet): worker.byVPN (vpnindex.go).
	vprev, vnext *ikeSA
	vkey         string
	// uid is the unique-id of the operational state.
	uid uint32
	// at are the deadlines of the SA's timers (timers.go), 0 if not
	// armed; retries the child SA creations to try again (rare: a
	// pointer).
	at      [numTimers]int64
	retries *[]childRetry

	// initiator is true on the original initiator (RFC 7296 §2.2: the I
	// flag).
	initiator bool
	state     saState
	lastError wire.NotifyType
	// ops are the SA's counters of the state (opstats.go).
	ops saOps
	// natt is set once IKE moved to port 4500 (RFC 7296 §2.23);
	// natLocal and natRemote say which side a NAT is in front of.
	natt, natLocal, natRemote bool
	// tcp: the SA's messages go over the TCP stream of its addresses
	// (RFC 9329; natt is then set too, tcp.go).
	tcp bool
	// haveHalfOpen: the SA is a half-open responder SA (dos.go), under
	// handshake.halfOpenKey.
	haveHalfOpen bool
	// peerDead: the peer stopped answering an established SA
	// (dpd-action applies); closedByPeer: the peer deleted it
	// (close-action applies); closing: our Delete of it is queued or
	// sent.
	peerDead, closedByPeer, closing bool
	// flushed: the operator flushed the SA while one of our requests
	// was outstanding; it is gone for everyone (no child SA, not in the
	// state), and stays only to send its D(IKE) once that request is
	// answered (flush.go).
	flushed bool
	// ppkUsed: a PPK went into SK_d (RFC 8784 §3; ppk.go), or into the
	// SK_d of the IKE SA this one rekeyed.
	ppkUsed bool
	// mobike: both sides announced MOBIKE_SUPPORTED (RFC 4555 §3.3;
	// mobike.go); mobikeInitiator: we were the initiator of the IKE_AUTH
	// that did, the side that decides moves (§3.1), which an IKE SA
	// rekey, whoever starts it, does not change.
	mobike, mobikeInitiator bool
	// peerAddrs are the peer's additional addresses (RFC 4555 §3.6) and
	// pathTry the next address pair tryOtherPath tries (mobike.go).
	peerAddrs []netip.Addr
	pathTry   int
	fragState
	keepalive

	vpn *config.VPN
	// handshake is what IKE_SA_INIT and IKE_AUTH need, nil once the SA
	// is established (authDone) or when a rekey created it.
	*handshake

	local, remote netip.AddrPort
	suite         ikecrypto.Suite
	// addKEs are the additional key exchanges (RFC 9370) that went into
	// the keys after suite.Group, in order (intermediate.go).
	addKEs []ipsec.TransformID
	// followup is, on the responder, a CREATE_CHILD_SA exchange waiting
	// for its IKE_FOLLOWUP_KE exchanges (followup.go); nil almost always.
	followup *followupState
	// keymat holds the IKE SA's keys back to back, SK_d | SK_ai | SK_ar |
	// SK_ei | SK_er, and SK_pi | SK_pr until the SA is established
	// (RFC 7296 §2.14); keys() splits it.
	keymat []byte
	// lastIV is the last IV of our SK payloads with an AEAD: the cipher
	// is built anew for each message and carries it on (RFC 5282 §3).
	lastIV uint64

	children []*childSA
	// reasm is the reassembly of fragmented messages (fragment.go).
	reasm *[2]reassembly

	// established is when IKE_AUTH completed (engine clock, 0 before)
	// and peerID the identity the peer proved.
	established int64
	peerID      config.Identity
	// contactKey is the SA's key in the engine's contacts (unique.go),
	// "" when not in it.
	contactKey string
	// failure is why the SA failed, for the Events hook.
	failure string
	// eap is the EAP conversation of a responder SA in IKE_AUTH, aaa
	// the accounting session of an SA the AAA server authenticated
	// (eap.go, eap_acct.go); nil otherwise. pskAAA is the IKE_AUTH
	// request of a pre-shared-key-radius peer waiting for its key
	// (psk_aaa.go).
	eap    *eapState
	aaa    *aaaSession
	pskAAA *pskAAAState

	// lastIn is when an authenticated message of the peer last arrived
	// (engine clock): the IKE part of DPD's proof of liveness (RFC 7296
	// §2.4).
	lastIn int64

	// successor is the IKE SA that replaced this one by a rekey and took
	// its child SAs; peerRekey is the IKE SA the peer's rekey request
	// created while our own rekey was outstanding, with the nonces of
	// that exchange (RFC 7296 §2.8.2).
	successor, peerRekey *ikeSA
	peerRekeyNonces      *[2][]byte

	// replaces is, during a make-before-break reauthentication, the SPI
	// of the IKE SA to delete once this one has set up its child SAs
	// (pendingChildren of them are still to come); reestablish is, in
	// a break-before-make one, what to set up once this SA is gone.
	replaces    uint64
	reestablish *reestablish
	// pendingChildren counts the child SAs still to come (see replaces);
	// rekeyRetries the TEMPORARY_FAILURE answers to our IKE SA rekeys.
	pendingChildren, rekeyRetries int32

	// peerRedirect: the peer announced REDIRECT_SUPPORTED in its
	// IKE_SA_INIT request; redirectedFrom is the gateway that redirected
	// our IKE SA here, sent as REDIRECTED_FROM (redirect.go).
	peerRedirect   bool
	redirectedFrom wire.Gateway
	// redirected: we followed a redirect of this IKE SA before it was
	// established; its unique-id goes on in the IKE SA at the new
	// gateway, and its removal is no failure (no event).
	redirected bool
	// vip holds the virtual IPs of the SA, nil without (vip.go).
	vip *vipState

	taskManager
	haSA
}

// handshake is the state of IKE_SA_INIT and IKE_AUTH (RFC 7296 §1.2).
type handshake struct {
	// candidates are, on the responder, the VPNs that match the peer's
	// address; IKE_AUTH picks one by identity.
	candidates []*config.VPN
	// ni and nr are the IKE_SA_INIT nonces, and initRequest and
	// initResponse its messages as sent/received, which AUTH signs (RFC
	// 7296 §2.15) and the KEYMAT of the first child SA uses (§2.17).
	ni, nr                    []byte
	initRequest, initResponse []byte
	// halfOpenKey is the responder SA's key in its worker's halfOpen
	// index: the initiator's address and SPI.
	halfOpenKey halfOpenKey
	// halfOpenVerified: the request that created the half-open SA
	// carried a valid cookie (dos.go).
	halfOpenVerified bool
	// usePPK: both sides sent USE_PPK in IKE_SA_INIT (RFC 8784 §3), so
	// IKE_AUTH carries PPK_IDENTITY (ppk.go).
	usePPK bool
	// intermediateState is that of the IKE_INTERMEDIATE exchanges
	// (intermediate.go).
	intermediateState
	// cert is the certificate authentication state (auth_cert.go).
	cert certHandshake
}

// log returns the SA's logger.
func (sa *ikeSA) log() saLogger { return saLogger{sa, sa.w.e.log} }

// childLog is the logger of the IKE SA's child SAs: log with subsystem
// child.
func (sa *ikeSA) childLog() saLogger { return saLogger{sa, sa.w.e.childLog} }

// setKeys installs the IKE SA's keys and suite (keys is cleared); the SK
// ciphers are built from them on use.
func (sa *ikeSA) setKeys(suite ikecrypto.Suite, keys *ikecrypto.IKEKeys) {
	sa.suite = suite
	all := [][]byte{keys.SKd, keys.SKai, keys.SKar, keys.SKei, keys.SKer, keys.SKpi, keys.SKpr}
	if sa.state == stateEstablished {
		all = all[:5] // created by a rekey: no AUTH to sign
	}
	sa.packKeys(all)
	keys.Clear()
	var b [8]byte
	io.ReadFull(sa.w.e.o.Rand, b[:])
	sa.lastIV = binary.BigEndian.Uint64(b[:])
}

// packKeys stores keys back to back in keymat, in an array of their
// exact size, and clears the previous keymat.
func (sa *ikeSA) packKeys(keys [][]byte) {
	n := 0
	for _, k := range keys {
		n += len(k)
	}
	km := make([]byte, 0, n)
	for _, k := range keys {
		km = append(km, k...)
	}
	clear(sa.keymat)
	sa.keymat = km
}

// keys returns the IKE SA's keys, slices of keymat; SK_pi and SK_pr are
// empty once the SA is established.
func (sa *ikeSA) keys() ikecrypto.IKEKeys {
	var k ikecrypto.IKEKeys
	kl, err := sa.suite.IKEKeyLengths()
	if err != nil || len(sa.keymat) == 0 {
		return k
	}
	km := sa.keymat
	for _, f := range []struct {
		dst *[]byte
		n   int
	}{
		{&k.SKd, kl.PRF}, {&k.SKai, kl.Integ}, {&k.SKar, kl.Integ},
		{&k.SKei, kl.Encr}, {&k.SKer, kl.Encr}, {&k.SKpi, kl.PRF}, {&k.SKpr, kl.PRF},
	} {
		if len(km) < f.n {
			break
		}
		*f.dst, km = km[:f.n:f.n], km[f.n:]
	}
	return k
}

// prf is the IKE SA's PRF (a small value, made from the suite on use).
func (sa *ikeSA) prf() ikecrypto.PRF {
	p, _ := sa.suite.NewPRF()
	return p
}

// hasKeys reports whether IKE_SA_INIT (or a rekey) gave the SA its keys.
func (sa *ikeSA) hasKeys() bool { return len(sa.keymat) > 0 }

// cipherOut builds the cipher of the messages we send (SK_ei/SK_ai on the
// original initiator, RFC 7296 §2.14), starting its IVs after lastIV; the
// caller stores them back with doneOut. nil without keys.
func (sa *ikeSA) cipherOut() ikecrypto.SKCipher {
	if !sa.hasKeys() {
		return nil
	}
	k := sa.keys()
	enc, integ := k.SKer, k.SKar
	if sa.initiator {
		enc, integ = k.SKei, k.SKai
	}
	c, err := ikecrypto.NewSKCipher(sa.suite, enc, integ)
	if err != nil {
		return nil
	}
	if ic, ok := c.(ikecrypto.IVCounter); ok {
		ic.SetLastIV(sa.lastIV)
	}
	return c
}

// doneOut keeps the IV counter of a cipher from cipherOut.
func (sa *ikeSA) doneOut(c ikecrypto.SKCipher) {
	if ic, ok := c.(ikecrypto.IVCounter); ok {
		sa.lastIV = ic.LastIV()
	}
}

// cipherIn builds the cipher of the messages we receive; nil without
// keys.
func (sa *ikeSA) cipherIn() ikecrypto.SKCipher {
	if !sa.hasKeys() {
		return nil
	}
	k := sa.keys()
	enc, integ := k.SKei, k.SKai
	if sa.initiator {
		enc, integ = k.SKer, k.SKar
	}
	c, err := ikecrypto.NewSKCipher(sa.suite, enc, integ)
	if err != nil {
		return nil
	}
	return c
}

// authDone drops what only IKE_SA_INIT and IKE_AUTH needed, once the SA
// is established: a reauthentication is a new IKE SA with its own
// IKE_SA_INIT (RFC 7296 §2.8.3), so nothing signs these again.
func (sa *ikeSA) authDone() {
	sa.endHalfOpen()
	sa.handshake = nil
	k := sa.keys()
	sa.packKeys([][]byte{k.SKd, k.SKai, k.SKar, k.SKei, k.SKer}) // SK_pi, SK_pr signed their last AUTH
}

// encode builds a message of the IKE SA: IKE_SA_INIT in clear, every other
// exchange inside an SK payload (RFC 7296 §3.14).
func (sa *ikeSA) encode(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([]byte, error) {
	h := sa.header(exch, id, response)
	if exch == wire.ExchangeIKESAInit {
		return (&wire.Message{Header: h, Payloads: ps}).Marshal()
	}
	c := sa.cipherOut()
	if c == nil {
		return nil, fmt.Errorf("engine: no keys")
	}
	defer sa.doneOut(c)
	return seal(c, h, ps)
}

// seal builds a protected message: the header and SK payload header with
// lengths that already count the sealed body, then IV | ciphertext | ICV
// appended by the cipher (RFC 7296 §3.14, see crypto.SKCipher).
func seal(c ikecrypto.SKCipher, h wire.Header, ps []wire.Payload) ([]byte, error) {
	plain, first, err := wire.AppendPayloadChain(nil, ps)
	if err != nil {
		return nil, err
	}
	n := c.SealedLen(len(plain))
	// The message is allocated to its exact size: responses are cached
	// until the next request (RFC 7296 §2.1), 100k SAs each hold one.
	m := &wire.Message{Header: h, Payloads: []wire.Payload{&wire.Encrypted{NextPayload: first, Body: make([]byte, n)}}}
	raw, err := m.Append(make([]byte, 0, wire.HeaderLen+skHeaderLen+n))
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-n]
	return c.Seal(aad, aad, plain)
}

// open authenticates and decrypts a protected message and returns its inner
// payloads, without the non-critical unknown ones (RFC 7296 §2.5).
func (sa *ikeSA) open(m *wire.Message) ([]wire.Payload, error) {
	in := sa.cipherIn()
	if in == nil || len(m.Payloads) == 0 {
		return nil, fmt.Errorf("engine: no keys or no payload")
	}
	sk, ok := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	if !ok {
		return nil, fmt.Errorf("engine: message not protected")
	}
	off := m.EncryptedBodyOffset()
	if off < 0 {
		return nil, fmt.Errorf("engine: no encrypted body")
	}
	plain, err := in.Open(nil, m.Raw[:off], sk.Body)
	if err != nil {
		return nil, err
	}
	ps, err := wire.ParsePayloadChain(sk.NextPayload, plain)
	if err != nil {
		return nil, err
	}
	if err := wire.CheckCritical(ps); err != nil {
		return nil, err
	}
	sa.keepIntermediatePlain(m, sk.NextPayload, plain)
	return wire.SkipUnknown(ps), nil
}

// send transmits raw to the peer, with the Non-ESP Marker once on port 4500.
func (sa *ikeSA) send(raw []byte) {
	data := raw
	if sa.natt {
		data = ipsec.AppendNonESPMarker(make([]byte, 0, len(raw)+ipsec.NonESPMarkerLen))
		data = append(data, raw...)
	}
	sa.sentSinceKeepalive = true
	if err := sa.w.e.o.Conn.Send(Datagram{Local: sa.local, Remote: sa.remote, Data: data, Stream: sa.tcp}); err != nil {
		sa.log().Limited(slog.LevelWarn, "send failed", "err", err)
	}
}

// sendAll transmits the datagrams of one message: all its fragments, in
// order (RFC 7383 §2.5: a retransmission resends every fragment).
func (sa *ikeSA) sendAll(msgs [][]byte) {
	for _, raw := range msgs {
		sa.send(raw)
	}
}

// fail records err, logs it and removes the SA.
func (sa *ikeSA) fail(err error) {
	if ne, ok := err.(*NotifyError); ok {
		sa.lastError = ne.Type
	}
	sa.log().Info("IKE SA failed", "err", err)
	sa.failure = err.Error()
	sa.w.e.removeSA(sa)
}

func find[T wire.Payload](ps []wire.Payload, ok func(T) bool) T {
	var zero T
	for _, p := range ps {
		if t, is := p.(T); is && (ok == nil || ok(t)) {
			return t
		}
	}
	return zero
}

func spiString(s uint64) string { return fmt.Sprintf("%016x", s) }
