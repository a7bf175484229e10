package engine

import "secgw/internal/ike/wire"

// Hooks for the exchange tests of package engine_test: they craft
// authenticated messages the engine itself would never send, with the keys
// of one of its IKE SAs.

// EncodeForTest encodes ps as the IKE SA whose SPI (ours) is spi would
// send them: protected and, when negotiated and needed, fragmented.
func (e *Engine) EncodeForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([][]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sas[spi].encodeAll(exch, id, response, ps)
}

// SealForTest protects plain, taken as an inner payload chain starting
// with type first, in one SK payload: plain need not parse.
func (e *Engine) SealForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, first wire.PayloadType, plain []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[spi]
	sk := &wire.Encrypted{NextPayload: first, Body: make([]byte, sa.out.SealedLen(len(plain)))}
	raw, err := (&wire.Message{Header: sa.header(exch, id, response), Payloads: []wire.Payload{sk}}).Marshal()
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-len(sk.Body)]
	return sa.out.Seal(aad, aad, plain)
}

// SealFragmentForTest protects plain as fragment num of total, with the
// Next Payload field next, whatever the counters say.
func (e *Engine) SealFragmentForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, next wire.PayloadType, num, total uint16, plain []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[spi]
	f := &wire.EncryptedFragment{NextPayload: next, FragmentNumber: num, TotalFragments: total, Body: make([]byte, sa.out.SealedLen(len(plain)))}
	raw, err := (&wire.Message{Header: sa.header(exch, id, response), Payloads: []wire.Payload{f}}).Marshal()
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-len(f.Body)]
	return sa.out.Seal(aad, aad, plain)
}

// ReassemblyForTest reports the reassembly of requests (response false)
// or responses of the IKE SA spi: whether one is under way, how many
// fragments and decrypted octets it holds.
func (e *Engine) ReassemblyForTest(spi uint64, response bool) (active bool, have, size int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.sas[spi].reasm[dirIndex(response)]
	return r.active, r.have, r.size
}

// MaxFragments and MaxReassembledLen are the reassembly limits.
const (
	MaxFragments      = maxFragments
	MaxReassembledLen = maxReassembledLen
	ReassemblyTimeout = reassemblyTimeout
)

// OpenForTest decrypts msg, an IKE message (without Non-ESP Marker) of the
// IKE SA spi carrying an SK payload, with the keys of the peer's direction
// or, if own, of our own (to read what the SA sent). It returns the inner
// payloads, unknown ones included.
func (e *Engine) OpenForTest(spi uint64, msg []byte, own bool) ([]wire.Payload, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sa := e.sas[spi]
	m, err := wire.Parse(msg)
	if err != nil {
		return nil, err
	}
	c := sa.in
	if own {
		c = sa.out
	}
	sk, _ := m.Payloads[len(m.Payloads)-1].(*wire.Encrypted)
	if sk == nil {
		return nil, wire.ErrSyntax
	}
	plain, err := c.Open(nil, m.Raw[:m.EncryptedBodyOffset()], sk.Body)
	if err != nil {
		return nil, err
	}
	return wire.ParsePayloadChain(sk.NextPayload, plain)
}
