package resolve

import (
	"encoding/binary"
	"sync"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// Resolved VPNs share their proposal lists: a VPN that inherits its
// template's proposals (or the defaults) gets the one list every such VPN
// holds, rather than a copy each (at 100k VPNs the copies were a third
// of the resolved configuration). The engine only reads them: it clones
// a list before changing it (SPIs, fallbacks), so a shared list is never
// written after it is made.

// So do their dependency keys (config.Entry.Uses): the VPNs of one pair
// of templates hold one list.

// maxShared bounds the distinct values a sharing table keeps; past it
// the table starts again (values already handed out stay valid, only the
// sharing of later ones with earlier ones is lost).
const maxShared = 4096

// sharing hands out one value for equal values, by a key that two values
// have alike exactly when they are equal.
type sharing[V any] struct {
	sync.Mutex
	m map[string]V
}

// get returns the value of key that earlier calls returned, or v, which
// later calls with key then get. The caller holds t's lock.
func (t *sharing[V]) get(key []byte, v V) V {
	if got, ok := t.m[string(key)]; ok {
		return got
	}
	if t.m == nil || len(t.m) >= maxShared {
		t.m = make(map[string]V)
	}
	t.m[string(key)] = v
	return v
}

var (
	sharedProposals struct {
		sharing[[]wire.Proposal]
		key []byte
	}
	sharedUses struct {
		sharing[[]string]
		key []byte
	}
)

// Default proposal lists, made once: VPNs and templates without
// proposals of their own all hold these.
var (
	defaultIKEProposals = config.DefaultIKEProposals()
	defaultESPProposals = config.DefaultESPProposals()
)

// share returns the list equal to ps that earlier calls returned, or ps,
// which later equal lists then share. An empty ps is returned as it is.
func share(ps []wire.Proposal) []wire.Proposal {
	if len(ps) == 0 {
		return ps
	}
	t := &sharedProposals
	t.Lock()
	defer t.Unlock()
	t.key = proposalKey(t.key[:0], ps)
	return t.get(t.key, ps)
}

// shareUses returns the list of dependency keys equal to uses that
// earlier calls returned, or uses. An empty uses is returned as it is.
func shareUses(uses []string) []string {
	if len(uses) == 0 {
		return uses
	}
	t := &sharedUses
	t.Lock()
	defer t.Unlock()
	t.key = t.key[:0]
	for _, u := range uses {
		t.key = binary.AppendUvarint(t.key, uint64(len(u)))
		t.key = append(t.key, u...)
	}
	return t.get(t.key, uses)
}

// proposalKey appends to b an encoding of ps that two lists have alike
// exactly when they are equal.
func proposalKey(b []byte, ps []wire.Proposal) []byte {
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = append(b, p.Number, byte(p.Protocol))
		b = binary.AppendUvarint(b, uint64(len(p.SPI)))
		b = append(b, p.SPI...)
		b = binary.AppendUvarint(b, uint64(len(p.Transforms)))
		for _, t := range p.Transforms {
			b = binary.AppendUvarint(b, uint64(t.Type))
			b = binary.AppendUvarint(b, uint64(t.ID))
			b = binary.AppendUvarint(b, uint64(len(t.Attributes)))
			for _, a := range t.Attributes {
				tv := byte(0)
				if a.TV {
					tv = 1
				}
				b = binary.AppendUvarint(b, uint64(a.Type))
				b = append(b, tv)
				b = binary.AppendUvarint(b, uint64(a.Value))
				b = binary.AppendUvarint(b, uint64(len(a.Data)))
				b = append(b, a.Data...)
			}
		}
	}
	return b
}
