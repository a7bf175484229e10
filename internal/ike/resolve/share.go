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

// maxShared bounds the distinct proposal lists kept for sharing; past it
// the table starts again (lists already handed out stay valid, only the
// sharing of later ones with earlier ones is lost).
const maxShared = 4096

var shared struct {
	sync.Mutex
	lists map[string][]wire.Proposal
	key   []byte
}

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
	shared.Lock()
	defer shared.Unlock()
	shared.key = proposalKey(shared.key[:0], ps)
	if got, ok := shared.lists[string(shared.key)]; ok {
		return got
	}
	if shared.lists == nil || len(shared.lists) >= maxShared {
		shared.lists = make(map[string][]wire.Proposal)
	}
	shared.lists[string(shared.key)] = ps
	return ps
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
