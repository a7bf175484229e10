package xmlcodec

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// TestApply checks the operations of RFC 6241 §7.2 on the small
// configuration: each request, with its default operation, must leave a
// tree that check accepts, or fail with the error tag.
func TestApply(t *testing.T) {
	s := loadSchema(t)
	hq := func(d *generated.Device) *generated.SecgwVrf_Vrf_Ike_Vpn { return d.Vrf["main"].Ike.Vpn["hq"] }
	for _, tc := range []struct {
		name  string
		dflt  Operation
		doc   string
		check func(d *generated.Device) string // "" when right
		tag   string
	}{
		{"merge adds and keeps", OpMerge, inMain(`<vpn><name>hq</name><description>d</description><vip-pool>p3</vip-pool></vpn>`),
			func(d *generated.Device) string {
				if v := hq(d); v.GetDescription() != "d" || !reflect.DeepEqual(v.VipPool, []string{"p2", "p1", "p3"}) || v.GetRemoteAddress() != "198.51.100.1" {
					return "vpn hq not merged"
				}
				return ""
			}, ""},
		{"merge creates the path", OpMerge, `<vrf ` + nsVRF + `><name>new</name><ike ` + nsIKE + `><vpn><name>v</name><enabled>false</enabled></vpn></ike></vrf>`,
			func(d *generated.Device) string {
				if d.Vrf["new"].GetIke().GetVpn("v").GetEnabled() != false || d.Vrf["new"].Ike.Vpn["v"].Enabled == nil {
					return "new vrf not created"
				}
				return ""
			}, ""},
		{"replace a list entry", OpMerge, inMain(`<vpn nc:operation="replace"><name>hq</name><description>only</description></vpn>`),
			func(d *generated.Device) string {
				v := hq(d)
				if v.GetDescription() != "only" || v.RemoteAddress != nil || v.VipPool != nil || v.SecurityPolicy != nil || v.IkePolicy != nil {
					return "vpn hq not replaced"
				}
				return ""
			}, ""},
		{"replace a container", OpMerge, inMain(`<global-options nc:operation="replace"><threads>4</threads></global-options>`),
			func(d *generated.Device) string {
				if g := d.Vrf["main"].Ike.GlobalOptions; g.GetThreads() != 4 || g.RetransmitTries != nil {
					return "global-options not replaced"
				}
				return ""
			}, ""},
		{"replace a container by nothing", OpMerge, inMain(`<global-options nc:operation="replace"></global-options>`),
			func(d *generated.Device) string {
				if g := d.Vrf["main"].Ike.GlobalOptions; g != nil && g.RetransmitTries != nil {
					return "global-options not emptied"
				}
				return ""
			}, ""},
		{"replace a container by nothing, self-closing", OpMerge, inMain(`<global-options nc:operation="replace"/>`),
			func(d *generated.Device) string {
				if g := d.Vrf["main"].Ike.GlobalOptions; g != nil && g.RetransmitTries != nil {
					return "global-options not emptied"
				}
				return ""
			}, ""},
		{"create new", OpMerge, inMain(`<vpn nc:operation="create"><name>new</name><remote-id>r</remote-id></vpn>`),
			func(d *generated.Device) string {
				if d.Vrf["main"].Ike.Vpn["new"].GetRemoteId() != "r" {
					return "vpn new not created"
				}
				return ""
			}, ""},
		{"delete an entry skips its content", OpMerge, inMain(`<vpn nc:operation="delete"><name>hq</name><description>x</description></vpn>`),
			func(d *generated.Device) string {
				if _, ok := d.Vrf["main"].Ike.Vpn["hq"]; ok {
					return "vpn hq not deleted"
				}
				return ""
			}, ""},
		{"delete a leaf and a leaf-list value", OpMerge, inMain(`<vpn><name>hq</name><remote-address nc:operation="delete"/><vip-pool nc:operation="delete">p2</vip-pool></vpn>`),
			func(d *generated.Device) string {
				if v := hq(d); v.RemoteAddress != nil || !reflect.DeepEqual(v.VipPool, []string{"p1"}) {
					return "leaf or leaf-list value not deleted"
				}
				return ""
			}, ""},
		{"remove missing is fine", OpMerge, inMain(`<vpn nc:operation="remove"><name>nope</name></vpn><pool nc:operation="remove"><name>x</name></pool>`),
			func(d *generated.Device) string {
				if len(d.Vrf["main"].Ike.Vpn) != 1 || d.Vrf["main"].Ike.Pool != nil {
					return "remove changed something"
				}
				return ""
			}, ""},
		{"remove a presence container", OpMerge, inMain(`<ha ` + nsHA + ` nc:operation="remove"/>`),
			func(d *generated.Device) string {
				if d.Vrf["main"].Ike.Ha != nil {
					return "ha not removed"
				}
				return ""
			}, ""},
		{"none: leaves without operation change nothing", OpNone, inMain(`<vpn><name>hq</name><description>x</description><remote-address nc:operation="merge">192.0.2.9</remote-address></vpn>`),
			func(d *generated.Device) string {
				if v := hq(d); v.Description != nil || v.GetRemoteAddress() != "192.0.2.9" {
					return "none applied a leaf without operation, or not the merge"
				}
				return ""
			}, ""},
		{"none: missing level", OpNone, inMain(`<vpn><name>nope</name><description>x</description></vpn>`), nil, "data-missing"},
		{"none: delete under a missing level", OpNone, inMain(`<vpn><name>nope</name><description nc:operation="delete"/></vpn>`), nil, "data-missing"},
		{"none: remove under a missing level", OpNone, inMain(`<vpn><name>nope</name><description nc:operation="remove"/></vpn>`),
			func(d *generated.Device) string {
				if _, ok := d.Vrf["main"].Ike.Vpn["nope"]; ok {
					return "remove created its parent"
				}
				return ""
			}, ""},
		{"none: create builds the missing levels", OpNone, `<vrf ` + nsVRF + ` ` + nsNC + `><name>new</name><ike ` + nsIKE + `><vpn><name>v</name><description nc:operation="create">c</description></vpn></ike></vrf>`,
			func(d *generated.Device) string {
				if d.Vrf["new"].GetIke().GetVpn("v").GetDescription() != "c" {
					return "create did not build vrf new"
				}
				return ""
			}, ""},
		{"default replace replaces everything", OpReplace, `<vrf ` + nsVRF + `><name>only</name></vrf>`,
			func(d *generated.Device) string {
				if len(d.Vrf) != 1 || d.Vrf["only"] == nil {
					return "configuration not replaced"
				}
				return ""
			}, ""},
		{"leaf-list create new value", OpMerge, inMain(`<vpn><name>hq</name><vip-pool nc:operation="create">p0</vip-pool></vpn>`),
			func(d *generated.Device) string {
				if !reflect.DeepEqual(hq(d).VipPool, []string{"p2", "p1", "p0"}) {
					return "value not appended"
				}
				return ""
			}, ""},
		{"leaf-list delete missing value", OpMerge, inMain(`<vpn><name>hq</name><vip-pool nc:operation="delete">p9</vip-pool></vpn>`), nil, "data-missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := smallTree(t, s)
			edits, err := codecOf(s).Decode(strings.NewReader(tc.doc), d, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			err = Apply(s, d, edits, tc.dflt)
			if tc.tag != "" {
				var xe *rpcerr.Error
				if !errors.As(err, &xe) || xe.Tag != tc.tag {
					t.Fatalf("error %v, want %s", err, tc.tag)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(d); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestApplyBadArguments(t *testing.T) {
	s := loadSchema(t)
	d := smallTree(t, s)
	var xe *rpcerr.Error
	if err := Apply(s, d, nil, "merge-all"); !errors.As(err, &xe) || xe.Tag != "invalid-value" {
		t.Errorf("bad default-operation: %v", err)
	}
	p := []Edit{{Path: append(inMainPath(), pathElem("vpn", "hq"), pathElem("name", "")), Op: OpMerge, Value: "other"}}
	if err := Apply(s, d, p, OpMerge); !errors.As(err, &xe) || xe.Tag != "bad-element" {
		t.Errorf("changing a key: %v", err)
	}
	p = []Edit{{Path: append(inMainPath(), pathElem("vpn", "hq")), Op: "frobnicate"}}
	if err := Apply(s, d, p, OpMerge); !errors.As(err, &xe) || xe.Tag != "bad-attribute" {
		t.Errorf("bad operation: %v", err)
	}
	p = []Edit{{Path: append(inMainPath(), pathElem("nothing", ""))}}
	if err := Apply(s, d, p, OpMerge); !errors.As(err, &xe) || xe.Tag != "unknown-element" {
		t.Errorf("unknown node: %v", err)
	}
}

func inMainPath() schema.DataPath {
	return schema.DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}}
}

// pathElem is a path step; a list step when key is not empty.
func pathElem(name, key string) schema.Elem {
	if key == "" {
		return schema.Elem{Name: name}
	}
	return schema.Elem{Name: name, KeyName: "name", Key: key}
}
