package engine

import (
	"fmt"

	"secgw/internal/ike/wire"
)

// Hooks for the exchange tests of package engine_test: they craft
// authenticated messages the engine itself would never send, with the keys
// of one of its IKE SAs.

// EncodeForTest encodes ps as the IKE SA whose SPI (ours) is spi would
// send them: protected and, when negotiated and needed, fragmented.
func (e *Engine) EncodeForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, ps []wire.Payload) ([][]byte, error) {
	sa, w := e.lookup(spi)
	defer w.unlock()
	return sa.encodeAll(exch, id, response, ps)
}

// SealForTest protects plain, taken as an inner payload chain starting
// with type first, in one SK payload: plain need not parse.
func (e *Engine) SealForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, first wire.PayloadType, plain []byte) ([]byte, error) {
	sa, w := e.lookup(spi)
	defer w.unlock()
	out := sa.cipherOut()
	defer sa.doneOut(out)
	sk := &wire.Encrypted{NextPayload: first, Body: make([]byte, out.SealedLen(len(plain)))}
	raw, err := (&wire.Message{Header: sa.header(exch, id, response), Payloads: []wire.Payload{sk}}).Marshal()
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-len(sk.Body)]
	return out.Seal(aad, aad, plain)
}

// SealFragmentForTest protects plain as fragment num of total, with the
// Next Payload field next, whatever the counters say.
func (e *Engine) SealFragmentForTest(spi uint64, exch wire.ExchangeType, id uint32, response bool, next wire.PayloadType, num, total uint16, plain []byte) ([]byte, error) {
	sa, w := e.lookup(spi)
	defer w.unlock()
	out := sa.cipherOut()
	defer sa.doneOut(out)
	f := &wire.EncryptedFragment{NextPayload: next, FragmentNumber: num, TotalFragments: total, Body: make([]byte, out.SealedLen(len(plain)))}
	raw, err := (&wire.Message{Header: sa.header(exch, id, response), Payloads: []wire.Payload{f}}).Marshal()
	if err != nil {
		return nil, err
	}
	aad := raw[:len(raw)-len(f.Body)]
	return out.Seal(aad, aad, plain)
}

// ReassemblyForTest reports the reassembly of requests (response false)
// or responses of the IKE SA spi: whether one is under way, how many
// fragments and decrypted octets it holds.
func (e *Engine) ReassemblyForTest(spi uint64, response bool) (active bool, have, size int) {
	sa, w := e.lookup(spi)
	defer w.unlock()
	if sa.reasm == nil {
		return false, 0, 0
	}
	r := sa.reasm[dirIndex(response)]
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
	sa, w := e.lookup(spi)
	defer w.unlock()
	m, err := wire.Parse(msg)
	if err != nil {
		return nil, err
	}
	c := sa.cipherIn()
	if own {
		c = sa.cipherOut()
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

// CheckWorkersForTest checks the invariants of the workers and the SA
// table: every IKE SA is on the worker of its peer's address, in its
// worker's list exactly once, in the table under its SPI, and in its
// worker's timer heap when it has a deadline. It returns the number of
// IKE SAs on each worker.
func (e *Engine) CheckWorkersForTest() ([]int, error) {
	s := e.lockAll()
	defer s.unlockAll()
	var per []int
	total := 0
	for _, w := range s.workers {
		n := 0
		for sa := w.head; sa != nil; sa = sa.wnext {
			n++
			if sa.w != w || e.workerFor(sa.remote.Addr()) != w {
				return nil, fmt.Errorf("SA %x of peer %v on worker %d", sa.id, sa.remote, w.id)
			}
			if s.table.get(sa.id) != sa {
				return nil, fmt.Errorf("SA %x not in the table", sa.id)
			}
			deadline := false
			for _, at := range sa.at {
				deadline = deadline || at != 0
			}
			if deadline && (sa.hidx < 0 || w.timers[sa.hidx].sa != sa) {
				return nil, fmt.Errorf("SA %x has timers but is not in its worker's heap", sa.id)
			}
		}
		per = append(per, n)
		total += n
	}
	if total != s.table.len() {
		return nil, fmt.Errorf("%d SAs on the workers, %d in the table", total, s.table.len())
	}
	return per, nil
}

// SACount is the number of IKE SAs in the table, flushed ones included.
func (e *Engine) SACount() int { return e.set.Load().table.len() }

// ChainVerifies is how many times the engine called
// x509.Certificate.Verify on a peer's chain (certcache.go).
func (e *Engine) ChainVerifies() uint64 { return e.certs.verifies.Load() }

// OutScannedForTest is the number of IKE SAs ExpireSA visited looking
// for an outbound SPI.
func (e *Engine) OutScannedForTest() uint64 { return e.outScanned.Load() }
