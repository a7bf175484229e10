package dataplane

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strings"
	"time"
)

// RenderOptions select what Render shows.
type RenderOptions struct {
	// Keys prints key material in hex. Without it only key lengths are
	// shown: rendered state may go to logs and golden files.
	Keys bool
}

// Render prints a State in the style of `ip xfrm state` followed by
// `ip xfrm policy`, sorted so that equal states render equally: SAs by
// destination and SPI, policies by direction, selector, mark and
// interface id.
func Render(s State, o RenderOptions) string {
	var b strings.Builder
	sas := slices.Clone(s.SAs)
	slices.SortFunc(sas, func(x, y SA) int { return CompareSAKeys(x.Key(), y.Key()) })
	for i := range sas {
		renderSA(&b, &sas[i], o)
	}
	pols := slices.Clone(s.Policies)
	slices.SortFunc(pols, func(x, y Policy) int { return ComparePolicyKeys(x.Key(), y.Key()) })
	for i := range pols {
		renderPolicy(&b, &pols[i])
	}
	return b.String()
}

// CompareSAKeys orders SA keys by destination, then SPI.
func CompareSAKeys(a, b SAKey) int {
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c
	}
	return cmp.Compare(a.SPI, b.SPI)
}

// ComparePolicyKeys orders policy keys by direction (out, in, fwd), then
// selector, mark and interface id.
func ComparePolicyKeys(a, b PolicyKey) int {
	rank := func(d Dir) int { return [...]int{3, 1, 0, 2}[d&3] }
	if c := cmp.Compare(rank(a.Dir), rank(b.Dir)); c != 0 {
		return c
	}
	if c := compareSelectors(a.Sel, b.Sel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Mark.Value, b.Mark.Value); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Mark.Mask, b.Mark.Mask); c != 0 {
		return c
	}
	return cmp.Compare(a.IfID, b.IfID)
}

func compareSelectors(a, b Selector) int {
	for _, c := range []int{
		comparePrefix(a.Src, b.Src), comparePrefix(a.Dst, b.Dst),
		cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.SrcPort, b.SrcPort), cmp.Compare(a.DstPort, b.DstPort),
	} {
		if c != 0 {
			return c
		}
	}
	return 0
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

func renderSA(b *strings.Builder, sa *SA, o RenderOptions) {
	fmt.Fprintf(b, "src %s dst %s\n", sa.Src, sa.Dst)
	fmt.Fprintf(b, "\tproto esp spi 0x%08x reqid %d mode %s", sa.SPI, sa.ReqID, sa.Mode)
	if sa.Dir != 0 {
		fmt.Fprintf(b, " dir %s", sa.Dir)
	}
	fmt.Fprintf(b, "\n\treplay-window %d", sa.ReplayWindow)
	if sa.ESN {
		b.WriteString(" flag esn")
	}
	b.WriteByte('\n')
	key := func(k []byte) string {
		if o.Keys {
			return "0x" + hex.EncodeToString(k)
		}
		return fmt.Sprintf("(%d bits)", len(k)*8)
	}
	if alg, aead, err := EncrAlg(sa.Encr); err != nil {
		fmt.Fprintf(b, "\tenc %s %s\n", ipsec.TransformName(ipsec.TransformEncr, sa.Encr), key(sa.EncrKey))
	} else if aead {
		fmt.Fprintf(b, "\taead %s %s %d\n", alg.Name, key(sa.EncrKey), alg.Bits)
	} else {
		fmt.Fprintf(b, "\tenc %s %s\n", alg.Name, key(sa.EncrKey))
	}
	if sa.Integ != ipsec.IntegNone {
		if alg, err := IntegAlg(sa.Integ); err != nil {
			fmt.Fprintf(b, "\tauth %s %s\n", ipsec.TransformName(ipsec.TransformInteg, sa.Integ), key(sa.IntegKey))
		} else {
			fmt.Fprintf(b, "\tauth-trunc %s %s %d\n", alg.Name, key(sa.IntegKey), alg.Bits)
		}
	}
	if sa.Encap.Enabled() {
		fmt.Fprintf(b, "\tencap type espinudp sport %d dport %d\n", sa.Encap.SrcPort, sa.Encap.DstPort)
	}
	renderMarkIfID(b, sa.Mark, sa.IfID)
	l := sa.Limits
	if s := limits(l.SoftBytes, l.SoftPackets, l.SoftAdd); s != "" {
		fmt.Fprintf(b, "\tlifetime soft%s\n", s)
	}
	if s := limits(l.HardBytes, l.HardPackets, l.HardAdd); s != "" {
		fmt.Fprintf(b, "\tlifetime hard%s\n", s)
	}
	if sa.Sel != (Selector{}) {
		fmt.Fprintf(b, "\tsel %s\n", sa.Sel)
	}
	if sa.OSeq != 0 {
		fmt.Fprintf(b, "\toseq 0x%x\n", sa.OSeq)
	}
	if sa.ISeq != 0 {
		fmt.Fprintf(b, "\tiseq 0x%x\n", sa.ISeq)
	}
}

func limits(bytes, packets uint64, add time.Duration) string {
	s := ""
	if bytes != 0 {
		s += fmt.Sprintf(" bytes %d", bytes)
	}
	if packets != 0 {
		s += fmt.Sprintf(" packets %d", packets)
	}
	if add != 0 {
		s += fmt.Sprintf(" add %s", add)
	}
	return s
}

func renderMarkIfID(b *strings.Builder, m Mark, ifID uint32) {
	if m != (Mark{}) {
		fmt.Fprintf(b, "\tmark 0x%x/0x%x\n", m.Value, m.Mask)
	}
	if ifID != 0 {
		fmt.Fprintf(b, "\tif_id 0x%x\n", ifID)
	}
}

func renderPolicy(b *strings.Builder, p *Policy) {
	fmt.Fprintf(b, "%s\n\tdir %s priority %d\n", p.Sel, p.Dir, p.Priority)
	renderMarkIfID(b, p.Mark, p.IfID)
	switch p.Action {
	case Protect:
		t := p.Tmpl
		if t.Src.IsValid() || t.Dst.IsValid() {
			fmt.Fprintf(b, "\ttmpl src %s dst %s\n", addrOrAny(t.Src), addrOrAny(t.Dst))
		} else {
			b.WriteString("\ttmpl\n")
		}
		fmt.Fprintf(b, "\t\tproto esp reqid %d mode %s\n", t.ReqID, t.Mode)
	case Bypass:
		b.WriteString("\taction allow\n")
	case Discard:
		b.WriteString("\taction block\n")
	default:
		fmt.Fprintf(b, "\taction %d\n", p.Action)
	}
}

func addrOrAny(a netip.Addr) string {
	if !a.IsValid() {
		return "any"
	}
	return a.String()
}
