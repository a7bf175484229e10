package ikesvc

import (
	"context"
	"encoding/xml"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/dataplane"
	"secgw/internal/rpcerr"
)

// call runs one IKE RPC and returns its reply.
func call(t *testing.T, s *Service, rpc, body string) string {
	t.Helper()
	out, err := s.Call(context.Background(), xml.Name{Space: NS, Local: rpc},
		[]byte(`<`+rpc+` xmlns="urn:secgw:yang:secgw-ike">`+body+`</`+rpc+`>`))
	if err != nil {
		t.Fatalf("%s %s: %v", rpc, body, err)
	}
	return string(out)
}

func countIs(n string) string { return `<count xmlns="urn:secgw:yang:secgw-ike">` + n + `</count>` }

// onlyChild returns the only child SA of a service's only IKE SA: its
// unique-id and inbound SPI.
func onlyChild(s *Service) (ike, child uint32, spi string, ok bool) {
	st := s.State(false)
	if len(st.IkeSa) != 1 {
		return 0, 0, "", false
	}
	for id, sa := range st.IkeSa {
		if sa.State != generated.SecgwVrf_Vrf_Ike_IkeSa_State_established || len(sa.ChildSa) != 1 {
			return 0, 0, "", false
		}
		for cid, c := range sa.ChildSa {
			return id, cid, *c.SpiIn, true
		}
	}
	return 0, 0, "", false
}

// TestRekeyReauthRPC drives the operator's commands between two services
// over loopback: rekey of a child SA (new SPIs, same IKE SA), of the IKE
// SA (new unique-id, the child SA inherited), reauth (new IKE and child
// SAs), each answered with the count the CLI words as the guide does;
// selectors that match nothing count 0; a missing choice is an rpc-error.
func TestRekeyReauthRPC(t *testing.T) {
	a, dpA := newService(t, 15700)
	b, _ := newService(t, 15700)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	runA.Vrf["main"].Ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{MakeBeforeBreak: ptr2(true)}
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	if got := call(t, a, "initiate", `<child-sa><security-policy>net</security-policy></child-sa>`); !strings.Contains(got, "initiating IKE_SA to-b[1]") ||
		!strings.Contains(got, "CHILD_SA net{2} established") {
		t.Fatalf("initiate child-sa:\n%s", got)
	}
	ike, child, spi, _ := onlyChild(a)

	if got := call(t, a, "rekey", `<child-sa><security-policy>net</security-policy></child-sa>`); got != countIs("1") {
		t.Fatalf("rekey child-sa: %s", got)
	}
	waitFor(t, func() bool {
		i, c, s, ok := onlyChild(a)
		_, _, _, okB := onlyChild(b)
		return ok && okB && i == ike && c != child && s != spi
	})
	ike, child, spi, _ = onlyChild(a)

	if got := call(t, a, "rekey", `<ike-sa><vpn>to-b</vpn></ike-sa>`); got != countIs("1") {
		t.Fatalf("rekey ike-sa: %s", got)
	}
	waitFor(t, func() bool {
		i, c, s, ok := onlyChild(a)
		_, _, _, okB := onlyChild(b)
		return ok && okB && i != ike && c == child && s == spi
	})
	ike, _, spi, _ = onlyChild(a)

	if got := call(t, a, "reauth", `<ike-sa><unique-id>`+strconv.FormatUint(uint64(ike), 10)+`</unique-id></ike-sa>`); got != countIs("1") {
		t.Fatalf("reauth: %s", got)
	}
	waitFor(t, func() bool {
		i, _, s, ok := onlyChild(a)
		_, _, _, okB := onlyChild(b)
		return ok && okB && i != ike && s != spi && len(dpA.Children()) == 1
	})

	for _, tc := range []struct{ rpc, body string }{
		{"rekey", `<ike-sa><vpn>nope</vpn></ike-sa>`},
		{"rekey", `<child-sa><unique-id>999</unique-id></child-sa>`},
		{"reauth", `<ike-sa><vpn>nope</vpn></ike-sa>`},
	} {
		if got := call(t, a, tc.rpc, tc.body); got != countIs("0") {
			t.Errorf("%s %s: %s", tc.rpc, tc.body, got)
		}
	}
	_, err := a.Call(context.Background(), xml.Name{Space: NS, Local: "reauth"}, []byte(`<reauth xmlns="urn:secgw:yang:secgw-ike"/>`))
	var re *rpcerr.Error
	if !errors.As(err, &re) || re.Tag != "missing-element" {
		t.Errorf("reauth without ike-sa: %v", err)
	}
}

// TestDataplaneEvents: the dataplane's events reach the engine: a soft
// expiry rekeys the child SA, a hard one deletes it, an acquire on the
// VPN's trap policy (start-action trap, the default) negotiates it again.
func TestDataplaneEvents(t *testing.T) {
	a, dpA := newService(t, 15800)
	b, _ := newService(t, 15800)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if tr := dpA.Traps(); len(tr) != 1 {
		t.Fatalf("traps %v", tr)
	}
	acquire := dataplane.Event{Kind: dataplane.Acquire, Sel: dataplane.Selector{
		Src: netip.MustParsePrefix("10.1.2.3/32"), Dst: netip.MustParsePrefix("10.2.3.4/32"), Proto: 17, DstPort: 53}}
	if err := a.DataplaneEvent(acquire); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, _, _, ok := onlyChild(a); return ok })
	c := dpA.Children()[0]
	soft := dataplane.Event{Kind: dataplane.SoftExpire, SA: dataplane.SAKey{Dst: c.Local.Addr(), SPI: c.InSPI}, Reason: "bytes"}
	if err := a.DataplaneEvent(soft); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		cs := dpA.Children()
		return len(cs) == 1 && cs[0].InSPI != c.InSPI
	})
	c = dpA.Children()[0]
	hard := dataplane.Event{Kind: dataplane.HardExpire, SA: dataplane.SAKey{Dst: c.Remote.Addr(), SPI: c.OutSPI}, Reason: "packets"}
	if err := a.DataplaneEvent(hard); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(dpA.Children()) == 0 && len(b.State(false).IkeSa[1].ChildSa) == 0 })
	if err := a.DataplaneEvent(dataplane.Event{Kind: dataplane.SoftExpire, SA: soft.SA}); err == nil {
		t.Error("expiry of a gone SA: no error")
	}
	// Traffic again: the trap negotiates the child SA on the IKE SA.
	if err := a.DataplaneEvent(acquire); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, _, _, ok := onlyChild(a); return ok })
}
