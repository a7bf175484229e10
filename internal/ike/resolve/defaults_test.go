package resolve

import (
	"strconv"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// TestScaleDefaultsMatchSchema resolves a vrf with no global-options and
// compares every dos-protection, threads and sa-table value the engine
// gets with the default the model states.
func TestScaleDefaultsMatchSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	def := func(path ...string) string {
		e := s.Find(append([]string{"vrf", "ike", "global-options"}, path...)...)
		if e == nil {
			t.Fatalf("no node %v", path)
		}
		d, _ := e.SingleDefaultValue()
		return d
	}
	for _, g := range []*generated.SecgwVrf_Vrf_Ike_GlobalOptions{nil, {}, {DosProtection: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection{}}} {
		c, err := Config(&generated.SecgwVrf_Vrf_Ike{GlobalOptions: g})
		if err != nil {
			t.Fatal(err)
		}
		got := c.Global
		u := func(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
		for _, x := range []struct{ got, want string }{
			{u(got.Cookies.Threshold), def("dos-protection", "cookie-threshold")},
			{strconv.FormatBool(got.Cookies.Always), "false"},
			{u(got.DoS.BlockThreshold), def("dos-protection", "block-threshold")},
			{u(got.DoS.InitLimitHalfOpen), def("dos-protection", "init-limit-half-open")},
			{u(got.DoS.InitLimitJobLoad), def("dos-protection", "init-limit-job-load")},
			{u(got.DoS.IKESALimit), def("dos-protection", "ike-sa-limit")},
			{strconv.Itoa(got.Threads), def("threads")},
			{strconv.Itoa(got.SATableSize), def("sa-table-size")},
			{strconv.Itoa(got.SATableSegments), def("sa-table-segments")},
		} {
			if x.got != x.want {
				t.Errorf("global-options %v: resolved %s, schema default %s", g, x.got, x.want)
			}
		}
	}
}
