package userspace

import (
	"cmp"
	"net/netip"
	"testing"

	"secgw/internal/dataplane"
)

// TestCompareSelTextIsStringOrder: the SPD's last tie-break orders
// selectors as their texts do, without keeping the texts.
func TestCompareSelTextIsStringOrder(t *testing.T) {
	sels := []dataplane.Selector{
		{Src: netip.MustParsePrefix("10.0.0.0/24"), Dst: netip.MustParsePrefix("10.1.0.0/16")},
		{Src: netip.MustParsePrefix("10.0.0.0/24"), Dst: netip.MustParsePrefix("10.1.0.0/16"), Proto: 6},
		{Src: netip.MustParsePrefix("10.0.0.0/24"), Dst: netip.MustParsePrefix("10.1.0.0/16"), Proto: 17, SrcPort: 53},
		{Src: netip.MustParsePrefix("10.0.0.0/24"), Dst: netip.MustParsePrefix("10.1.0.0/16"), Proto: 17, DstPort: 500},
		{Src: netip.MustParsePrefix("9.0.0.0/8"), Dst: netip.MustParsePrefix("10.1.0.0/16")},
		{Src: netip.MustParsePrefix("192.0.2.1/32"), Dst: netip.MustParsePrefix("0.0.0.0/0")},
		{Src: netip.MustParsePrefix("2001:db8::/32"), Dst: netip.MustParsePrefix("2001:db8:1::/48"), Proto: 58},
		{Src: netip.MustParsePrefix("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128"), Dst: netip.MustParsePrefix("2001:db8:ffff:ffff:ffff:ffff:ffff:fffe/128"), Proto: 17, SrcPort: 65535, DstPort: 65535},
	}
	for i := range sels {
		for j := range sels {
			want := cmp.Compare(sels[i].String(), sels[j].String())
			if got := compareSelText(&sels[i], &sels[j]); got != want {
				t.Errorf("compareSelText(%s, %s) = %d, want %d", sels[i], sels[j], got, want)
			}
		}
	}
	a, b := &sels[6], &sels[7]
	if n := testing.AllocsPerRun(100, func() { compareSelText(a, b) }); n != 0 {
		t.Errorf("compareSelText allocates %.0f times, want 0 (it runs on the lookup path)", n)
	}
}
