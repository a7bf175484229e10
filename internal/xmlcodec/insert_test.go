package xmlcodec

import (
	"errors"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
)

// inNACM wraps rule-list elements in /nacm, with the NETCONF and
// YANG attribute namespaces declared.
func inNACM(xml string) string {
	return `<nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm" ` + nsNC + ` xmlns:yang="urn:ietf:params:xml:ns:yang:1">` + xml + `</nacm>`
}

// ruleList is the element of rule-list name with attributes attrs.
func ruleList(name, attrs string) string {
	return `<rule-list ` + attrs + `><name>` + name + `</name></rule-list>`
}

// ruleListOrder returns the names of the rule-lists of d in order.
func ruleListOrder(d *generated.Device) string {
	return strings.Join(d.GetNacm().RuleList.Keys(), " ")
}

// TestInsert checks the insert attribute of RFC 7950 §7.8.6 on an
// ordered-by user list, starting from rule-lists b, d, f written in that
// order (not their names' order, to tell the two apart they are written
// f, d, b): new entries go last without it; first, last, before and
// after place new entries and move existing ones; a replace keeps an
// entry's place; and the errors of RFC 7950 §15.7 and RFC 6241
// appendix A.
func TestInsert(t *testing.T) {
	s := loadSchema(t)
	for _, tc := range []struct {
		name, doc string
		want      string // the order after, or the error tag
		appTag    string
		info      string // bad-attribute of the error
	}{
		{"document order", ``, "f d b", "", ""},
		{"new goes last", ruleList("a", ""), "f d b a", "", ""},
		{"new first", ruleList("a", `yang:insert="first"`), "a f d b", "", ""},
		{"new last", ruleList("a", `yang:insert="last"`), "f d b a", "", ""},
		{"new before", ruleList("a", `yang:insert="before" yang:key="[name='d']"`), "f a d b", "", ""},
		{"new after", ruleList("a", `yang:insert="after" yang:key="[name='d']"`), "f d a b", "", ""},
		{"key with prefix and double quotes", ruleList("a", `yang:insert="after" yang:key='[ aaa:name = "f" ]'`), "f a d b", "", ""},
		{"move existing first", ruleList("b", `yang:insert="first"`), "b f d", "", ""},
		{"move existing after", ruleList("f", `yang:insert="after" yang:key="[name='b']"`), "d b f", "", ""},
		{"move existing before itself", ruleList("d", `yang:insert="before" yang:key="[name='d']"`), "f d b", "", ""},
		{"merge without insert stays", ruleList("f", ``), "f d b", "", ""},
		{"replace stays", ruleList("d", `nc:operation="replace"`), "f d b", "", ""},
		{"replace moves with insert", ruleList("d", `nc:operation="replace" yang:insert="last"`), "f b d", "", ""},
		{"create with insert", ruleList("a", `nc:operation="create" yang:insert="before" yang:key="[name='f']"`), "a f d b", "", ""},
		{"several in document order", ruleList("a", `yang:insert="first"`) + ruleList("c", `yang:insert="after" yang:key="[name='a']"`), "a c f d b", "", ""},
		{"before a missing entry", ruleList("a", `yang:insert="before" yang:key="[name='zz']"`), "missing-attribute", "missing-instance", "key"},
		{"after without key", ruleList("a", `yang:insert="after"`), "missing-attribute", "", "key"},
		{"bad insert value", ruleList("a", `yang:insert="middle"`), "bad-attribute", "", "insert"},
		{"key not a predicate", ruleList("a", `yang:insert="after" yang:key="d"`), "bad-attribute", "", "key"},
		{"key of another leaf", ruleList("a", `yang:insert="after" yang:key="[group='d']"`), "bad-attribute", "", "key"},
		{"unqualified insert", ruleList("a", `insert="first"`), "bad-attribute", "", "insert"},
		{"value on a list", ruleList("a", `yang:value="x"`), "unknown-attribute", "", "value"},
		{"insert on a list not ordered-by user", `<groups><group yang:insert="first"><name>g</name></group></groups>`, "bad-attribute", "", "insert"},
		{"insert on a leaf-list not ordered-by user", `<rule-list><name>d</name><group yang:insert="first">g</group></rule-list>`, "bad-attribute", "", "insert"},
		{"insert on a container", `<rule-list><name>d</name></rule-list><groups yang:insert="first"/>`, "bad-attribute", "", "insert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &generated.Device{}
			if err := decodeApply(s, d, inNACM(ruleList("f", "")+ruleList("d", "")+ruleList("b", ""))); err != nil {
				t.Fatal(err)
			}
			err := decodeApply(s, d, inNACM(tc.doc))
			if strings.Contains(tc.want, "-") {
				var xe *rpcerr.Error
				if !errors.As(err, &xe) || xe.Tag != tc.want || xe.AppTag != tc.appTag {
					t.Fatalf("error %v, want %s (app tag %q)", err, tc.want, tc.appTag)
				}
				if !strings.Contains(xe.Error(), tc.info) || !hasInfo(xe, "bad-attribute", tc.info) {
					t.Errorf("error %v: error-info bad-attribute is not %s", xe, tc.info)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ruleListOrder(d); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

// hasInfo reports whether error-info of e holds name with value v.
func hasInfo(e *rpcerr.Error, name, v string) bool { return e.Info[name] == v }

// TestOrderedEncode: get-config writes an ordered-by user list in its
// order, and reading that back keeps it.
func TestOrderedEncode(t *testing.T) {
	s := loadSchema(t)
	d := &generated.Device{}
	if err := decodeApply(s, d, inNACM(ruleList("z", "")+ruleList("a", "")+ruleList("m", ""))); err != nil {
		t.Fatal(err)
	}
	out := string(encode(t, s, d, EncodeOptions{}))
	if iz, ia, im := strings.Index(out, "<name>z<"), strings.Index(out, "<name>a<"), strings.Index(out, "<name>m<"); !(iz < ia && ia < im) || iz < 0 {
		t.Fatalf("rule-lists not written in their order: %s", out)
	}
	back := &generated.Device{}
	edits, err := codecOf(s).Decode(strings.NewReader(out), back, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(s, back, edits, OpMerge); err != nil {
		t.Fatal(err)
	}
	if got := ruleListOrder(back); got != "z a m" {
		t.Errorf("read back in order %q, want z a m", got)
	}
}

// TestInsertLeafList checks the insert attribute on an ordered-by user
// leaf-list (RFC 7950 §7.7.9), vip-pool of VPN hq holding p2 then p1:
// yang:value names the value before and after refer to.
func TestInsertLeafList(t *testing.T) {
	s := loadSchema(t)
	const y = `xmlns:yang="urn:ietf:params:xml:ns:yang:1"`
	pool := func(attrs, v string) string {
		return inMain(`<vpn><name>hq</name><vip-pool ` + y + ` ` + attrs + `>` + v + `</vip-pool></vpn>`)
	}
	for _, tc := range []struct {
		name, doc, want, appTag, info string
	}{
		{"new goes last", pool("", "p0"), "p2 p1 p0", "", ""},
		{"new first", pool(`yang:insert="first"`, "p0"), "p0 p2 p1", "", ""},
		{"new before", pool(`yang:insert="before" yang:value="p1"`, "p0"), "p2 p0 p1", "", ""},
		{"new after", pool(`yang:insert="after" yang:value="p2"`, "p0"), "p2 p0 p1", "", ""},
		{"existing first", pool(`yang:insert="first"`, "p1"), "p1 p2", "", ""},
		{"existing after", pool(`yang:insert="after" yang:value="p1"`, "p2"), "p1 p2", "", ""},
		{"existing stays", pool("", "p2"), "p2 p1", "", ""},
		{"before a missing value", pool(`yang:insert="before" yang:value="p9"`, "p0"), "missing-attribute", "missing-instance", "value"},
		{"after without value", pool(`yang:insert="after"`, "p0"), "missing-attribute", "", "value"},
		{"key on a leaf-list", pool(`yang:insert="after" yang:key="[name='p1']"`, "p0"), "unknown-attribute", "", "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := smallTree(t, s)
			err := decodeApply(s, d, tc.doc)
			if strings.Contains(tc.want, "-") {
				var xe *rpcerr.Error
				if !errors.As(err, &xe) || xe.Tag != tc.want || xe.AppTag != tc.appTag || !hasInfo(xe, "bad-attribute", tc.info) {
					t.Fatalf("error %v, want %s (app tag %q, bad-attribute %s)", err, tc.want, tc.appTag, tc.info)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(d.Vrf["main"].Ike.Vpn["hq"].VipPool, " "); got != tc.want {
				t.Errorf("vip-pool %q, want %q", got, tc.want)
			}
		})
	}
}
