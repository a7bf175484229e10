package netconf

import (
	"maps"
	"runtime"
	"slices"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/xmlcodec"
)

// vpnDocs encodes the VPNs names of cfg, with its templates, as the
// content of an edit-config's <config>.
func vpnDocs(t testing.TB, srv *Server, cfg *generated.Device, names []string) []byte {
	t.Helper()
	ike := *cfg.Vrf["main"].Ike
	ike.Vpn = make(map[string]*generated.SecgwVrf_Vrf_Ike_Vpn, len(names))
	for _, n := range names {
		ike.Vpn[n] = cfg.Vrf["main"].Ike.Vpn[n]
	}
	main := "main"
	d := &generated.Device{Vrf: map[string]*generated.SecgwVrf_Vrf{main: {Name: &main, Ike: &ike}}}
	doc, err := srv.codec.Append(nil, d, xmlcodec.EncodeOptions{Config: true, Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestEditConfigAllocatesByEdit checks, by the bytes allocated (work, not
// time), that an edit-config (test-then-set) of 100 new VPNs into a
// candidate already holding 1k uncommitted VPNs costs about the same as
// into one holding 10k: loading a configuration in chunks is linear in
// its size, not quadratic.
func TestEditConfigAllocatesByEdit(t *testing.T) {
	perEdit := func(n int) uint64 {
		srv, s := benchServer(t)
		const edit, edits = 100, 5
		cfg := configtest.Concentrator(t, s, n+edit*edits)
		names := slices.Sorted(maps.Keys(cfg.Vrf["main"].Ike.Vpn))
		load := func(names []string) {
			if err := srv.cfg.Store.Edit(1, srv.applyEdits(nil, configOf(t, vpnDocs(t, srv, cfg, names)), xmlcodec.OpMerge, true)); err != nil {
				t.Fatal(err)
			}
		}
		load(names[:n])
		docs := make([][]byte, edits)
		for i := range docs {
			docs[i] = vpnDocs(t, srv, cfg, names[n+i*edit:n+(i+1)*edit])
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for _, doc := range docs {
			if err := srv.cfg.Store.Edit(1, srv.applyEdits(nil, configOf(t, doc), xmlcodec.OpMerge, true)); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / edits
	}
	small, large := perEdit(1000), perEdit(10000)
	t.Logf("an edit-config of 100 VPNs allocates %d B into 1k VPNs, %d B into 10k", small, large)
	if large > 2*small {
		t.Errorf("an edit-config of 100 VPNs allocates %d B into 1k VPNs, %d B into 10k", small, large)
	}
}
