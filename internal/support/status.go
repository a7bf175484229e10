package support

import (
	"strings"

	"secgw/internal/schema"
)

// Status renders Refused as the README's Status table (markdown): the
// configuration nodes this release refuses at commit, and what each
// waits for. Every other node of the model is honoured.
func Status(s *schema.Schema) string {
	var b strings.Builder
	b.WriteString("| configuration node | refused | waits for |\n|---|---|---|\n")
	for _, r := range Refused() {
		path, what := r.Path, "any value but the default"
		e := s.Find(strings.Split(strings.TrimPrefix(r.Path, "/"), "/")...)
		if r.NonMainVRF {
			path = strings.Replace(path, "/vrf/", "/vrf[name!='main']/", 1)
		}
		switch {
		case r.NonMainVRF && r.Allowed == nil:
			what = "the whole node"
		case e != nil && !e.IsLeaf() && !e.IsLeafList():
			what = "the whole node"
		case r.Allowed != nil:
			what = "values other than " + strings.Join(r.Allowed, ", ")
		case r.Denied != nil:
			what = "the value " + strings.Join(r.Denied, ", ")
		case e != nil && len(e.Default) == 0:
			what = "any value"
		}
		b.WriteString("| `" + path + "` | " + what + " | " + r.Feature + " |\n")
	}
	return b.String()
}
