package version

import (
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    string
		b    build
		want string
	}{
		{"", build{}, "secgwd devel "},
		{"", build{module: "(devel)", revision: "0123456789abcdef", time: "2026-12-07T18:00:00Z", modified: true},
			"secgwd devel (rev 0123456789ab, 2026-12-07T18:00:00Z, modified) "},
		{"1.2.0", build{module: "v0.0.0", revision: "abc"}, "secgwd 1.2.0 (rev abc) "},
		{"", build{module: "v1.0.1"}, "secgwd v1.0.1 "},
	} {
		got := format("secgwd", c.v, c.b)
		if !strings.HasPrefix(got, c.want+"go") {
			t.Errorf("format(%q, %+v) = %q, want prefix %q", c.v, c.b, got, c.want)
		}
	}
}

// TestString: a test binary has build info; String names the program.
func TestString(t *testing.T) {
	if s := String("secgw"); !strings.HasPrefix(s, "secgw ") || !strings.Contains(s, " go") {
		t.Errorf("String = %q", s)
	}
}
