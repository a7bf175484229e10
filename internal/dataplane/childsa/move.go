package childsa

import (
	"context"
	"fmt"
	"slices"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
)

// seqMargin is added to the outbound sequence number a moved SA starts
// from: packets still being sealed by the old SA while the move is applied
// take numbers the new one must not reuse (RFC 4303 §3.3.3: a sequence
// number is never sent twice under one SA).
const seqMargin = 1024

// MoveChild implements engine.ChildMover: the child SA keeps its SPIs,
// keys, reqid and policies' selectors and gets new outer addresses and
// UDP encapsulation (MOBIKE, RFC 4555 §3.5). An SA whose key (destination
// and SPI) is unchanged is updated in place, which keeps its sequence
// numbers and replay window; one whose key changes is replaced, the
// outbound one starting after the old one's last sequence number, the
// inbound one's replay window resumed at the old one's highest. The
// policies' templates follow the new addresses.
func (p *Programmer) MoveChild(old, moved engine.ChildSA) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.children[old.InSPI]
	if ch == nil {
		return fmt.Errorf("dataplane: child SA %08x not installed", old.InSPI)
	}
	// The child's entries with the options it was installed with (its
	// reqid entry holds them): what entries derives once it has moved.
	oldSAs, oldPols := ch.entries()
	sas, pols, err := ChildEntries(moved, ch.re.rk.opts, ch.re.id)
	if err != nil {
		return err
	}
	if len(pols) != len(oldPols) {
		return fmt.Errorf("dataplane: child SA %08x: moved policies differ", old.InSPI)
	}
	for i := range pols {
		if pols[i].Key() != oldPols[i].Key() {
			return fmt.Errorf("dataplane: child SA %08x: a transport-mode child SA cannot move (its selectors are its addresses)", old.InSPI)
		}
	}
	newIn, newOut := sas[0], sas[1]
	oldIn, oldOut := &oldSAs[0], &oldSAs[1]
	var ops []dataplane.Op
	if p.inPlace(oldIn, &newIn) {
		ops = append(ops, dataplane.Op{Kind: dataplane.UpdateSA, SA: &newIn})
	} else {
		// The replacement resumes the old SA's replay window (RFC 4303
		// §3.4.3) instead of accepting again what it already received.
		ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
		if cnt, err := p.o.Dataplane.Counters(ctx, oldIn.Key()); err == nil {
			newIn.ISeq = max(newIn.ISeq, cnt.ISeq)
		}
		cancel()
		// One inbound SA per SPI: the old one goes first.
		ops = append(ops, dataplane.Op{Kind: dataplane.DeleteSA, SA: oldIn}, dataplane.Op{Kind: dataplane.AddSA, SA: &newIn})
	}
	outReplaced := !p.inPlace(oldOut, &newOut)
	if outReplaced && newOut.Key() == oldOut.Key() {
		// Same key, new source: the old SA goes first.
		ops = append(ops, dataplane.Op{Kind: dataplane.DeleteSA, SA: oldOut})
	}
	if outReplaced {
		ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
		cnt, err := p.o.Dataplane.Counters(ctx, oldOut.Key())
		cancel()
		if err == nil {
			newOut.OSeq = cnt.OSeq + seqMargin
		} else {
			p.log.Warn("moved child SA: outbound sequence number unknown, starting over", "out", fmt.Sprintf("%08x", old.OutSPI), "err", err)
		}
		ops = append(ops, dataplane.Op{Kind: dataplane.AddSA, SA: &newOut})
	} else {
		ops = append(ops, dataplane.Op{Kind: dataplane.UpdateSA, SA: &newOut})
	}
	// The moved child SA takes over its policies: the installed ones
	// must name its new addresses, also where another user (its trap,
	// whose template has the configured remote address) owned them.
	var owners [][]*child
	for i := range pols {
		u := p.policies[pols[i].Key()]
		if u == nil || len(u.users) == 0 {
			owners = append(owners, nil)
			continue
		}
		owners = append(owners, u.users)
		if !samePolicy(u.users[0].policy(pols[i].Key()), &pols[i]) {
			ops = append(ops, dataplane.Op{Kind: dataplane.UpdatePolicy, Policy: &pols[i]})
		}
	}
	if outReplaced && newOut.Key() != oldOut.Key() {
		ops = append(ops, dataplane.Op{Kind: dataplane.DeleteSA, SA: oldOut})
	}
	if err := p.apply(ops); err != nil {
		return fmt.Errorf("dataplane: move child %08x/%08x: %w", old.InSPI, old.OutSPI, err)
	}
	ch.c, ch.oseq = moved, newOut.OSeq
	for i, users := range owners {
		if users == nil {
			continue
		}
		j := slices.Index(users, ch)
		if j > 0 {
			users = slices.Insert(slices.Delete(users, j, j+1), 0, ch)
			p.policies[pols[i].Key()].users = users
		}
	}
	p.log.Info("child SA moved", "vpn", moved.VPN, "policy", moved.Policy,
		"in", fmt.Sprintf("%08x", moved.InSPI), "out", fmt.Sprintf("%08x", moved.OutSPI),
		"local", moved.Local, "remote", moved.Remote)
	return nil
}

// inPlace tells whether an SA can take its moved version by UpdateSA,
// keeping its sequence numbers and replay window: its key must not
// change, and in the kernel its addresses neither (XFRM_MSG_UPDSA takes
// the new encapsulation and lifetimes but keeps the old source address,
// which a tunnel-mode policy check compares with its template). The
// userspace dataplane rebuilds the SA around its live state.
func (p *Programmer) inPlace(old, moved *dataplane.SA) bool {
	if old.Key() != moved.Key() {
		return false
	}
	return p.o.Dataplane.Kind() != "kernel" || (old.Src == moved.Src && old.Dst == moved.Dst)
}
