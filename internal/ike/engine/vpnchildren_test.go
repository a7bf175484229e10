package engine_test

import (
	"testing"
)

// TestInstalledChildren: the installed child SAs of the VPNs named, and
// none of another VPN or of a VPN that has no SA.
func TestInstalledChildren(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	establish(t, a, b)
	checkChildPair(t, a, b)
	got := a.e.InstalledChildren([]string{"to-b"})
	if len(got) != 1 || got[0].VPN != "to-b" || got[0].State != "installed" || got[0].In.Encr != nil {
		t.Fatalf("InstalledChildren(to-b) = %+v, want its one installed child SA without keys", got)
	}
	if want := a.dp.Children()[0].InSPI; got[0].InSPI != want {
		t.Errorf("child SA in-SPI %08x, want %08x", got[0].InSPI, want)
	}
	for _, names := range [][]string{nil, {"other"}, {""}} {
		if got := a.e.InstalledChildren(names); len(got) != 0 {
			t.Errorf("InstalledChildren(%q) = %+v, want none", names, got)
		}
	}
}
