package xmlcodec

import (
	"errors"
	"testing"

	"secgw/internal/rpcerr"
)

// selectors and command are shaped like ikesvc's Target and Result.
type selector struct {
	VPN      string  `yang:"vpn"`
	UniqueID *uint32 `yang:"unique-id"`
	Policy   string  `yang:"security-policy"`
}

type target struct {
	VRF     string    `yang:"vrf"`
	IKESA   *selector `yang:"ike-sa"`
	ChildSA *selector `yang:"child-sa"`
}

type command struct {
	Count    uint32   `yang:"count"`
	Messages []string `yang:"message"`
}

// TestRPCInput: the input is read by the RPC's input statement, choices
// looked through; a node the RPC lacks is not read; unknown elements,
// foreign namespaces and values outside their type are rpc-errors.
func TestRPCInput(t *testing.T) {
	s := loadSchema(t)
	var in target
	body := `<rekey xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><ike-sa><unique-id> 7 </unique-id></ike-sa></rekey>`
	if err := DecodeInput(s.RPCs["rekey"], []byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.VRF != "main" || in.IKESA == nil || in.IKESA.UniqueID == nil || *in.IKESA.UniqueID != 7 || in.ChildSA != nil {
		t.Fatalf("decoded %+v", in)
	}
	in = target{}
	body = `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`
	if err := DecodeInput(s.RPCs["initiate"], []byte(body), &in); err != nil || in.ChildSA == nil || in.ChildSA.Policy != "net" {
		t.Fatalf("initiate child-sa: %+v, %v", in, err)
	}
	for _, c := range []struct{ rpc, body, typ, tag, elem string }{
		{"rekey", `<rekey xmlns="urn:secgw:yang:secgw-ike"><bogus/></rekey>`, "protocol", "unknown-element", "bogus"},
		{"rekey", `<rekey xmlns="urn:secgw:yang:secgw-ike"><vrf xmlns="urn:x">main</vrf></rekey>`, "protocol", "unknown-namespace", "vrf"},
		{"rekey", `<rekey xmlns="urn:secgw:yang:secgw-ike"><ike-sa><unique-id>4294967296</unique-id></ike-sa></rekey>`, "application", "invalid-value", "unique-id"},
		{"rekey", `<rekey xmlns="urn:secgw:yang:secgw-ike"><vrf><x/></vrf></rekey>`, "protocol", "bad-element", "x"},
	} {
		err := DecodeInput(s.RPCs[c.rpc], []byte(c.body), &target{})
		var re *rpcerr.Error
		if !errors.As(err, &re) || re.Type != c.typ || re.Tag != c.tag || re.Info["bad-element"] != c.elem {
			t.Errorf("%s: %v, want %s %s bad-element %s", c.body, err, c.typ, c.tag, c.elem)
		}
	}
}

// TestRPCOutput: the output in statement order, each top-level node
// qualified, text escaped as encoding/xml does.
func TestRPCOutput(t *testing.T) {
	s := loadSchema(t)
	got, err := AppendOutput(nil, s.RPCs["flush"], command{Count: 2, Messages: []string{"a<b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `<count xmlns="urn:secgw:yang:secgw-ike">2</count><message xmlns="urn:secgw:yang:secgw-ike">a&lt;b</message>` +
		`<message xmlns="urn:secgw:yang:secgw-ike">c</message>`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if _, err := AppendOutput(nil, s.RPCs["flush"], target{}); err == nil {
		t.Fatal("output with nodes the RPC does not have: no error")
	}
}

// TestNotification: sa-event with its leaves in statement order, absent
// pointers left out, an empty string written.
func TestNotification(t *testing.T) {
	s := loadSchema(t)
	type event struct {
		Reason   *string `yang:"reason"`
		VRF      string  `yang:"vrf"`
		Event    string  `yang:"event"`
		VPN      string  `yang:"vpn"`
		UniqueID uint32  `yang:"unique-id"`
		Policy   *string `yang:"security-policy"`
	}
	reason := "peer & co"
	got, err := AppendNotification(nil, s.Notifications["sa-event"], &event{Reason: &reason, VRF: "main", Event: "ike-failed", UniqueID: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>ike-failed</event><vpn></vpn>` +
		`<unique-id>3</unique-id><reason>peer &amp; co</reason></sa-event>`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
