package xpath

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseInstanceIdentifier: instance-identifiers (RFC 7950 §9.13) with
// optional key predicates parse into steps; anything else an XPath
// expression may be is refused with a message naming the step.
func TestParseInstanceIdentifier(t *testing.T) {
	for src, want := range map[string][]InstanceStep{
		"/":               {},
		"/vrf":            {{Name: "vrf"}},
		"/sv:vrf/ike:ike": {{Prefix: "sv", Name: "vrf"}, {Prefix: "ike", Name: "ike"}},
		"/vrf[name='main']/ike/vpn[name=\"acme\"]": {
			{Name: "vrf", Keys: []KeyPredicate{{Name: "name", Value: "main"}}},
			{Name: "ike"},
			{Name: "vpn", Keys: []KeyPredicate{{Name: "name", Value: "acme"}}}},
		"/vrf[ sv:name = 'a b' ]/ike": {{Name: "vrf", Keys: []KeyPredicate{{Prefix: "sv", Name: "name", Value: "a b"}}}, {Name: "ike"}},
		"/vrf['x' = name]":            {{Name: "vrf", Keys: []KeyPredicate{{Name: "name", Value: "x"}}}},
		"/l[a='1'][b='2']":            {{Name: "l", Keys: []KeyPredicate{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}}},
	} {
		got, err := ParseInstanceIdentifier(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", src, got, want)
		}
	}
	for src, msg := range map[string]string{
		"":                           "",
		"vrf":                        "absolute",
		"/vrf/*":                     "not a node name",
		"//vpn":                      "not a node name",
		"/vrf/../aaa":                "not a node name",
		"/vrf[name=5]":               "quoted string",
		"/vrf[1]":                    "[key = 'value']",
		"/vrf/description[.='x']":    "leaf-list",
		"/vrf[name='a' or name='b']": "[key = 'value']",
		"/vrf[name=/x]":              "[key = 'value']",
		"/vrf[name='a'":              "",
		"count(/vrf)":                "absolute",
		"/vrf | /aaa":                "absolute",
		"/vrf[name=concat('a','b')]": "[key = 'value']",
	} {
		_, err := ParseInstanceIdentifier(src)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want an error containing %q", src, err, msg)
		}
	}
}

// FuzzParseInstanceIdentifier checks that the parser never panics, and
// that what it accepts prints back into a path it parses the same way.
func FuzzParseInstanceIdentifier(f *testing.F) {
	for _, s := range []string{"/", "/vrf[name='main']/ike/vpn[name=\"a\"]", "/a:b/c[d:e='f'][g='h']", "/x[.='1']", "/x[1]", "//y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		steps, err := ParseInstanceIdentifier(src)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range steps {
			b.WriteString("/")
			if s.Prefix != "" {
				b.WriteString(s.Prefix + ":")
			}
			b.WriteString(s.Name)
			for _, k := range s.Keys {
				q := "'"
				if strings.Contains(k.Value, "'") {
					q = `"`
				}
				b.WriteString("[")
				if k.Prefix != "" {
					b.WriteString(k.Prefix + ":")
				}
				b.WriteString(k.Name + "=" + q + k.Value + q + "]")
			}
		}
		if b.Len() == 0 {
			b.WriteString("/")
		}
		again, err := ParseInstanceIdentifier(b.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v, whose rendering %q does not parse: %v", src, steps, b.String(), err)
		}
		if len(again) != len(steps) || (len(steps) > 0 && !reflect.DeepEqual(again, steps)) {
			t.Fatalf("%q: %+v, rendered %q: %+v", src, steps, b.String(), again)
		}
	})
}
