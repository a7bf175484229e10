package netconf

import (
	"strings"
	"testing"

	"secgw/internal/xmlcodec"
)

// TestSubtreeWants: a subtree filter wants a state node when containment
// nodes lead to it or to a selection node above it, or to a node with
// only content matches below; not when it names other nodes only.
func TestSubtreeWants(t *testing.T) {
	diag := []string{"vrf", "ike", "diagnostics"}
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{`<vrf/>`, true},
		{`<vrf><ike/></vrf>`, true},
		{`<vrf><name>main</name></vrf>`, true},
		{`<vrf><name>main</name><ike><diagnostics/></ike></vrf>`, true},
		{`<vrf><ike><diagnostics><goroutines/></diagnostics></ike></vrf>`, true},
		{`<vrf><name>main</name><ike><ike-sa/></ike></vrf>`, false},
		{`<vrf><ike><statistics/><global-options/></ike></vrf>`, false},
		{`<netconf-state/>`, false},
	} {
		f, err := xmlcodec.ParseFilter(strings.NewReader(c.filter))
		if err != nil {
			t.Fatal(err)
		}
		if got := subtreeWants(f)(diag...); got != c.want {
			t.Errorf("filter %s wants diagnostics: %v, want %v", c.filter, got, c.want)
		}
	}
}
