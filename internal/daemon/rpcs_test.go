package daemon

import (
	"strings"
	"testing"
	"time"

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

// TestVPNMonitorNotification: a vpn-monitor-down and a vpn-monitor-up
// sa-event of the IKE service (what the VPN monitor reports through
// OnSAEvent) reach a NETCONF session subscribed with
// create-subscription, in that order.
func TestVPNMonitorNotification(t *testing.T) {
	g := startGateway(t, "mon", 17640)
	if err := g.s.Subscribe(); err != nil {
		t.Fatalf("create-subscription: %v", err)
	}
	policy, child, reason := "net", uint32(4), "3 echoes to the monitored destination unanswered: routes withdrawn"
	for _, c := range []struct {
		ev   ikesvc.SAEvent
		want string
	}{
		{ikesvc.SAEvent{VRF: ikesvc.VRF, Event: "vpn-monitor-down", VPN: "hq", UniqueID: 3, Policy: &policy, ChildUniqueID: &child, Reason: &reason},
			`<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>vpn-monitor-down</event><vpn>hq</vpn><unique-id>3</unique-id>` +
				`<security-policy>net</security-policy><child-unique-id>4</child-unique-id><reason>` + reason + `</reason></sa-event>`},
		{ikesvc.SAEvent{VRF: ikesvc.VRF, Event: "vpn-monitor-up", VPN: "hq", UniqueID: 3, Policy: &policy, ChildUniqueID: &child},
			`<sa-event xmlns="urn:secgw:yang:secgw-ike"><vrf>main</vrf><event>vpn-monitor-up</event><vpn>hq</vpn><unique-id>3</unique-id>` +
				`<security-policy>net</security-policy><child-unique-id>4</child-unique-id></sa-event>`},
	} {
		// NextNotification blocks: read it aside, so that a missing
		// notification fails the test instead of hanging it (the
		// session's close at the end unblocks the reader).
		type read struct {
			n   []byte
			err error
		}
		got := make(chan read, 1)
		go func() {
			n, err := g.s.NextNotification()
			got <- read{n, err}
		}()
		g.d.onSAEvent(c.ev)
		var n []byte
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatalf("%s: %v", c.ev.Event, r.err)
			}
			n = r.n
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no notification within 10 s", c.ev.Event)
		}
		if !strings.Contains(string(n), c.want) {
			t.Errorf("%s notification:\n%s\nwant it to hold %s", c.ev.Event, n, c.want)
		}
	}
}
