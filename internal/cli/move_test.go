package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestMoveAndDiff: 'move' places an entry of an ordered-by user list
// (rule-list) first, last, before or after another; a new entry goes
// last; 'show config' prints the entries in their order, and 'compare'
// shows an entry that moved as removed and added at its new place.
func TestMoveAndDiff(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, []byte(`<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">`+
		`<rule-list><name>c</name><group>*</group></rule-list>`+
		`<rule-list><name>a</name><group>*</group></rule-list>`+
		`<rule-list><name>b</name><group>*</group></rule-list>`+
		`</nacm>`), nil)
	var buf bytes.Buffer
	c := New(s, m, &buf)
	mustRun(t, c, &buf, "edit running")
	order := func() string {
		t.Helper()
		return strings.Join(m.candidate.GetNacm().RuleList.Keys(), " ")
	}
	for _, step := range []struct{ line, want string }{
		{"/ nacm rule-list d group *", "c a b d"},
		{"move / nacm rule-list b first", "b c a d"},
		{"move / nacm rule-list b last", "c a d b"},
		{"move / nacm rule-list b before a", "c b a d"},
		{"move / nacm rule-list c after a", "b a c d"},
	} {
		mustRun(t, c, &buf, step.line)
		if got := order(); got != step.want {
			t.Fatalf("%s: order %q, want %q", step.line, got, step.want)
		}
	}
	if err := c.Run("move / nacm rule-list c after nope"); err == nil || !strings.Contains(err.Error(), "names no entry") {
		t.Errorf("move after a missing entry: %v", err)
	}
	if err := c.Run("move / vrf main ike vpn x first"); err == nil || !strings.Contains(err.Error(), "not ordered-by user") {
		t.Errorf("move in a list not ordered-by user: %v", err)
	}
	show := mustRun(t, c, &buf, "show config / nacm")
	if ib, ia, ic := strings.Index(show, "rule-list b"), strings.Index(show, "rule-list a"), strings.Index(show, "rule-list c"); ib < 0 || !(ib < ia && ia < ic) {
		t.Errorf("show config does not print the order b a c d:\n%s", show)
	}
	// c a b became b a c d: the fewest moves keep b, move a and c after
	// it, and add d.
	want := `  nacm
-     rule-list a
-         group *
-         ..
+     rule-list a
+         group *
+         ..
-     rule-list c
-         group *
-         ..
+     rule-list c
+         group *
+         ..
+     rule-list d
+         group *
+         ..
      ..
`
	if out := mustRun(t, c, &buf, "compare"); out != want {
		t.Errorf("compare:\n%s\nwant:\n%s%s", out, want, diff(out, want))
	}
}
