package daemon

import (
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// TestIKERPCsInSchema: every RPC the daemon binds is one of the model's.
func TestIKERPCsInSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	for name := range ikeRPCs(vrfRPCs{}, nil, nil) {
		if s.RPCs[name] == nil {
			t.Errorf("the daemon binds %s, which the schema does not have", name)
		}
	}
}

// TestSAEventEncoding: the sa-event notifications of SA events, as the
// NETCONF server writes them from the schema.
func TestSAEventEncoding(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ev   engine.Event
		want string
	}{
		{engine.Event{Kind: engine.IKEUp, SA: 3, VPN: "hq"},
			`<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>ike-up</event><vpn>hq</vpn><unique-id>3</unique-id></sa-event>`},
		{engine.Event{Kind: engine.ChildFailed, SA: 3, Child: 4, VPN: "a&b", Policy: "net", Reason: "TS_UNACCEPTABLE <received>"},
			`<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>child-failed</event><vpn>a&amp;b</vpn><unique-id>3</unique-id>` +
				`<security-policy>net</security-policy><child-unique-id>4</child-unique-id><reason>TS_UNACCEPTABLE &lt;received&gt;</reason></sa-event>`},
		{engine.Event{Kind: engine.IKEFailed, SA: 5, Reason: "peer not responding"},
			`<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>ike-failed</event><vpn></vpn><unique-id>5</unique-id><reason>peer not responding</reason></sa-event>`},
	} {
		got, err := xmlcodec.AppendNotification(nil, s.Notifications["sa-event"], ikesvc.NewSAEvent(c.ev))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
