package engine

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

type saState uint8

const (
	stateInit        saState = iota // IKE_SA_INIT in progress or done, not authenticated
	stateAuth                       // IKE_AUTH in progress (initiator)
	stateEstablished                // authenticated
	stateDeleted                    // removed from the table
)

func (s saState) String() string {
	return [...]string{"init", "auth", "established", "deleted"}[s]
}

// ikeSA is one IKE SA. It is owned by its Engine and only touched with the
// Engine's mutex held.
type ikeSA struct {
	e   *Engine
	log *slog.Logger
	// id is our SPI, the key in the SA table.
	id         uint64
	spii, spir uint64
	// initiator is true on the original initiator (RFC 7296 §2.2: the I
	// flag).
	initiator bool
	state     saState
	lastError wire.NotifyType

	vpn *config.VPN
	// candidates are, on the responder, the VPNs that match the peer's
	// address; IKE_AUTH picks one by identity.
	candidates []*config.VPN

	local, remote netip.AddrPort
	// natt is set once IKE moved to port 4500 (RFC 7296 §2.23).
	natt                      bool
	natLocal, natRemote       bool
	haveHalfOpen              bool
	halfOpenKey               halfOpenKey
	suite                     ikecrypto.Suite
	prf                       ikecrypto.PRF
	keys                      *ikecrypto.IKEKeys
	out, in                   ikecrypto.SKCipher
	ni, nr                    []byte
	initRequest, initResponse []byte // IKE_SA_INIT messages as sent/received, for AUTH (§2.15)

	children []*childSA

	fragState
	keepalive

	// uid is the unique-id of the operational state; established is when
	// IKE_AUTH completed and peerID the identity the peer proved.
	uid         uint32
	established time.Time
	peerID      config.Identity
	// failure is why the SA failed, for the Events hook.
	failure string

	// lastIn is when an authenticated message of the peer last arrived:
	// the IKE part of DPD's proof of liveness (RFC 7296 §2.4).
	lastIn time.Time
	// peerDead: the peer stopped answering an established SA
	// (dpd-action applies); closedByPeer: the peer deleted it
	// (close-action applies); closing: our Delete of it is queued or
	// sent.
	peerDead, closedByPeer, closing bool

	// successor is the IKE SA that replaced this one by a rekey and took
	// its child SAs; peerRekey is the IKE SA the peer's rekey request
	// created while our own rekey was outstanding, with the nonces of
	// that exchange (RFC 7296 §2.8.2).
	successor, peerRekey *ikeSA
	peerRekeyNonces      [2][]byte
	rekeyRetries         int

	// replaces is, during a make-before-break reauthentication, the SPI
	// of the IKE SA to delete once this one has set up its child SAs
	// (pendingChildren of them are still to come); reestablish is, in
	// a break-before-make one, what to set up once this SA is gone.
	replaces        uint64
	pendingChildren int
	reestablish     *reestablish

	ikeTimers
	taskManager
}

// encode builds a message of the IKE SA: IKE_SA_INIT in clear, every other
// exchange inside an SK payload (RFC 7296 §3.14).
func (sa *ikeSA) encode(exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([]byte, error) {
	h := sa.header(exch, id, response)
	if exch == wire.ExchangeIKESAInit {
		return (&wire.Message{Header: h, Payloads: ps}).Marshal()
	}
	return seal(sa.out, h, ps)
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
	raw, err := (&wire.Message{Header: h, Payloads: []wire.Payload{&wire.Encrypted{NextPayload: first, Body: make([]byte, n)}}}).Marshal()
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-n]
	return c.Seal(aad, aad, plain)
}

// open authenticates and decrypts a protected message and returns its inner
// payloads, without the non-critical unknown ones (RFC 7296 §2.5).
func (sa *ikeSA) open(m *wire.Message) ([]wire.Payload, error) {
	if sa.in == nil || len(m.Payloads) == 0 {
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
	plain, err := sa.in.Open(nil, m.Raw[:off], sk.Body)
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
	return wire.SkipUnknown(ps), nil
}

// send transmits raw to the peer, with the Non-ESP Marker once on port 4500.
func (sa *ikeSA) send(raw []byte) {
	data := raw
	if sa.natt {
		data = wire.AppendNonESPMarker(make([]byte, 0, len(raw)+wire.NonESPMarkerLen))
		data = append(data, raw...)
	}
	sa.sentSinceKeepalive = true
	if err := sa.e.o.Conn.Send(Datagram{Local: sa.local, Remote: sa.remote, Data: data}); err != nil {
		sa.log.Warn("send failed", "err", err)
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
	sa.log.Info("IKE SA failed", "err", err)
	sa.failure = err.Error()
	sa.e.removeSA(sa)
}

func findNotify(ps []wire.Payload, t wire.NotifyType) *wire.Notify {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType == t {
			return n
		}
	}
	return nil
}

// firstError returns the first error notification in ps, if any.
func firstError(ps []wire.Payload) *wire.Notify {
	for _, p := range ps {
		if n, ok := p.(*wire.Notify); ok && n.NotifyType.IsError() {
			return n
		}
	}
	return nil
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
