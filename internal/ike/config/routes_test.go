package config

import (
	"strconv"
	"testing"

	"secgw/internal/schema"
)

// TestRouteDefaultsMatchSchema keeps DefaultRoutingTable and
// DefaultRoutingTablePrio equal to the YANG defaults.
func TestRouteDefaultsMatchSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  int
		leaf string
	}{{DefaultRoutingTable, "routing-table"}, {DefaultRoutingTablePrio, "routing-table-prio"}} {
		e := s.Find("vrf", "ike", "global-options", c.leaf)
		if e == nil {
			t.Fatalf("no node global-options %s", c.leaf)
		}
		if d, _ := e.SingleDefaultValue(); d != strconv.Itoa(c.got) {
			t.Errorf("%s: constant %d, schema default %s", c.leaf, c.got, d)
		}
	}
}
