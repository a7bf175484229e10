package validate

import (
	"errors"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

// TestCheckLeafAsValidate checks that CheckLeaf reports a value outside
// its type exactly as Validate reports it in a tree holding the value
// (kind, path, message), and nothing for a good value, an unknown path or
// a list entry's good key.
func TestCheckLeafAsValidate(t *testing.T) {
	s, v := setup(t)
	main := schema.Elem{Name: "vrf", KeyName: "name", Key: "main"}
	hq := schema.Elem{Name: "vpn", KeyName: "name", Key: "hq"}
	ike := schema.Elem{Name: "ike"}
	cases := []struct {
		line string
		path schema.DataPath
		val  string
	}{
		{"/ vrf main ike global-options retransmit-tries 101",
			schema.DataPath{main, ike, {Name: "global-options"}, {Name: "retransmit-tries"}}, "101"},
		{"/ vrf main ike vpn hq remote-address 198.51.100.300",
			schema.DataPath{main, ike, hq, {Name: "remote-address"}}, "198.51.100.300"},
		{"/ vrf main ike ike-policy-template t1 dpd-delay 10sec",
			schema.DataPath{main, ike, {Name: "ike-policy-template", KeyName: "name", Key: "t1"}, {Name: "dpd-delay"}}, "10sec"},
	}
	for _, c := range cases {
		d := &generated.Device{}
		apply(t, s, d, append(append([]string(nil), base...), c.line)...)
		var ve Errors
		if err := v.Validate(d); !errors.As(err, &ve) || len(ve) != 1 {
			t.Fatalf("%s: Validate: %v", c.line, err)
		}
		got := v.CheckLeaf(c.path, c.val)
		if got == nil || *got != *ve[0] {
			t.Errorf("%s: CheckLeaf %+v, Validate %+v", c.line, got, ve[0])
		}
	}
	good := []struct {
		path schema.DataPath
		val  string
	}{
		{schema.DataPath{main, ike, hq, {Name: "remote-address"}}, "198.51.100.3"},
		{schema.DataPath{main, ike, hq, {Name: "name"}}, "hq"},
		{schema.DataPath{main, {Name: "no-such-node"}}, "x"},
	}
	for _, g := range good {
		if e := v.CheckLeaf(g.path, g.val); e != nil {
			t.Errorf("CheckLeaf(%s, %q) = %v", g.path, g.val, e)
		}
	}
}
