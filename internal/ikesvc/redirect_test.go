package ikesvc

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"secgw/internal/rpcerr"
)

// TestRedirectRPC: the redirect RPC sends the peer of an established IKE
// SA from gateway B (127.0.0.2) to gateway C (127.0.0.3) over loopback:
// A, with follow-redirect, ends with its IKE and child SA at C; an IKE
// SA whose peer did not announce REDIRECT_SUPPORTED is named and not
// counted; bad input is an rpc-error.
func TestRedirectRPC(t *testing.T) {
	a, _ := newService(t, 15710)
	b, _ := newService(t, 15710)
	c, _ := newService(t, 15710)
	for s, addr := range map[*Service]string{b: "127.0.0.2", c: "127.0.0.3"} {
		if err := s.Start(device("from-a", addr, "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
			t.Fatal(err)
		}
	}
	runA := device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
	runA.Vrf["main"].Ike.Vpn["to-b"].IkePolicy.FollowRedirect = ptr2(true)
	if err := a.Start(runA); err != nil {
		t.Fatal(err)
	}
	call(t, a, "initiate", `<child-sa><security-policy>net</security-policy></child-sa>`)
	waitFor(t, func() bool { _, _, _, ok := onlyChild(b); return ok })
	got := call(t, b, "redirect", `<ike-sa><vpn>from-a</vpn></ike-sa><gateway>127.0.0.3</gateway>`)
	if !strings.Contains(got, countIs("1")) || !strings.Contains(got, "Redirected 1 IKE SA to 127.0.0.3.") {
		t.Fatalf("redirect: %s", got)
	}
	waitFor(t, func() bool {
		_, _, _, okA := onlyChild(a)
		_, _, _, okC := onlyChild(c)
		return okA && okC && len(b.State(false).IkeSa) == 0
	})
	if st := a.State(false).Statistics; st.GetRedirectsFollowed() != 1 {
		t.Errorf("A followed %d redirects", st.GetRedirectsFollowed())
	}
	if st := b.State(false).Statistics; st.GetRedirectsSent() != 1 || st.GetRedirectsRefused() != 0 {
		t.Errorf("B sent %d redirects", st.GetRedirectsSent())
	}

	for _, body := range []string{
		`<ike-sa><vpn>from-a</vpn></ike-sa><gateway>not a name</gateway>`,
		`<gateway>127.0.0.9</gateway>`,
	} {
		_, err := c.Call(context.Background(), xml.Name{Space: NS, Local: "redirect"},
			[]byte(`<redirect xmlns="urn:secgw:yang:secgw-ike">`+body+`</redirect>`))
		var re *rpcerr.Error
		if !errors.As(err, &re) {
			t.Errorf("redirect %s: %v", body, err)
		}
	}
}

// TestRedirectRPCUnsupported: a peer without follow-redirect is not
// redirected; the reply says why.
func TestRedirectRPCUnsupported(t *testing.T) {
	a, _ := newService(t, 15720)
	b, _ := newService(t, 15720)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	call(t, a, "initiate", `<child-sa><security-policy>net</security-policy></child-sa>`)
	waitFor(t, func() bool { _, _, _, ok := onlyChild(b); return ok })
	got := call(t, b, "redirect", `<ike-sa><vpn>from-a</vpn></ike-sa><gateway>127.0.0.3</gateway>`)
	if !strings.Contains(got, countIs("0")) || !strings.Contains(got, "did not announce REDIRECT_SUPPORTED") {
		t.Fatalf("redirect: %s", got)
	}
}
