package engine_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
	"secgw/internal/pkitest"
)

// fakeAAA is an EAP-MD5 server (RFC 3748 §5.4) behind the engine's AAA
// interface, standing for RADIUS: it answers the identity with an
// MD5-Challenge and State, checks the response against password, and
// accepts (with msk, nil for EAP-MD5 as it derives none) or rejects.
// With hold, each answer waits until release is called.
type fakeAAA struct {
	password string
	msk      []byte
	attrs    engine.AAAAttrs
	fail     error
	hold     bool

	// psks are the pre-shared keys by identity (pre-shared-key-radius):
	// a known identity is accepted with its key (an empty one: without
	// Tunnel-Password), another rejected.
	psks map[string]string
	// given are the keys handed to the engine, to check it cleared them.
	given [][]byte

	mu       sync.Mutex
	reqs     []engine.AAARequest
	held     []func()
	acct     []engine.AcctRecord
	challeng []byte
}

func (f *fakeAAA) EAP(r engine.AAARequest, done func(engine.AAAReply)) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	rep := f.answer(r)
	if f.hold {
		f.held = append(f.held, func() { done(rep) })
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	go done(rep)
}

func (f *fakeAAA) PSK(r engine.AAARequest, done func(engine.AAAReply)) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	rep := engine.AAAReply{Outcome: engine.AAAReject}
	if f.fail != nil {
		rep = engine.AAAReply{Err: f.fail}
	} else if k, ok := f.psks[r.UserName]; ok {
		rep = engine.AAAReply{Outcome: engine.AAAAccept, Attrs: f.attrs}
		if k != "" {
			rep.PSK = []byte(k)
			f.given = append(f.given, rep.PSK)
		}
	}
	if f.hold {
		f.held = append(f.held, func() { done(rep) })
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	go done(rep)
}

func (f *fakeAAA) answer(r engine.AAARequest) engine.AAAReply {
	if f.fail != nil {
		return engine.AAAReply{Err: f.fail}
	}
	m := r.EAP
	switch {
	case m[4] == 1: // Response/Identity
		f.challeng = []byte("0123456789abcdef")
		req := append([]byte{1, m[1] + 1, 0, 22, 4, 16}, f.challeng...)
		return engine.AAAReply{Outcome: engine.AAAChallenge, EAP: req, State: []byte("st")}
	case m[4] == 4 && string(r.State) == "st": // MD5-Challenge response
		h := md5.Sum(append(append([]byte{m[1]}, f.password...), f.challeng...))
		if len(m) >= 22 && bytes.Equal(m[6:22], h[:]) && r.UserName == "alice" {
			return engine.AAAReply{Outcome: engine.AAAAccept, EAP: []byte{3, m[1], 0, 4}, MSK: bytes.Clone(f.msk), Attrs: f.attrs}
		}
	}
	return engine.AAAReply{Outcome: engine.AAAReject, EAP: []byte{4, m[1], 0, 4}}
}

func (f *fakeAAA) Account(r engine.AcctRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acct = append(f.acct, r)
}

func (f *fakeAAA) release() {
	f.mu.Lock()
	h := f.held
	f.held = nil
	f.mu.Unlock()
	for _, g := range h {
		g()
	}
}

// eapPair is A (initiator "to-b") and B, whose VPN "from-a" has
// remote-auth-method eap-radius and the AAA aaa; ownPSK false removes
// B's pre-shared-key (EAP-only). It runs IKE_SA_INIT and returns A's
// SPI, A's own IKE_AUTH request opened (to reuse its IDi, SA, TSi, TSr)
// and the datagram it came in.
func eapPair(t *testing.T, aaa *fakeAAA, ownPSK bool) (a, b *peer, aspi uint64, first []wire.Payload, d engine.Datagram) {
	t.Helper()
	a, b = pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		v := ike.Vpn["from-a"]
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_eap_radius
		if !ownPSK {
			v.IkePolicy.PreSharedKey = nil
		}
	}, func(o *engine.Options) { o.AAA = aaa })
	// A's own IKE_AUTH (with AUTH) is not delivered: we play the EAP
	// initiator with its payloads.
	aspi, d, ps := authRequest(t, a, b)
	return a, b, aspi, withoutAuth(ps), d
}

// withoutAuth is the payloads of A's IKE_AUTH request without its AUTH
// and CERT: the first request of an EAP initiator (RFC 7296 §2.16).
func withoutAuth(ps []wire.Payload) (first []wire.Payload) {
	for _, p := range ps {
		switch p.(type) {
		case *wire.Auth, *wire.Certificate:
		default:
			first = append(first, p)
		}
	}
	return first
}

// exchange sends ps as A's IKE_AUTH request id and returns B's response,
// nil when B sent nothing.
func exchange(t *testing.T, a, b *peer, aspi uint64, d engine.Datagram, id uint32, ps []wire.Payload) []wire.Payload {
	t.Helper()
	send(t, a, b, aspi, d, id, ps)
	return response(t, a, b, aspi)
}

func send(t *testing.T, a, b *peer, aspi uint64, d engine.Datagram, id uint32, ps []wire.Payload) {
	t.Helper()
	msgs, err := a.e.EncodeForTest(aspi, wire.ExchangeIKEAuth, id, false, ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		inject(b, engine.Datagram{Local: d.Local, Remote: d.Remote, Data: withMarker(d, m)}, nil, a)
	}
}

func response(t *testing.T, a, b *peer, aspi uint64) []wire.Payload {
	t.Helper()
	out := takeAll(b)
	if len(out) == 0 {
		return nil
	}
	if len(out) != 1 {
		t.Fatalf("B sent %d datagrams", len(out))
	}
	raw, _ := message(t, out[0])
	ps, err := a.e.OpenForTest(aspi, raw, false)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// waitResponse waits for B's answer to a request that went to the AAA.
func waitResponse(t *testing.T, a, b *peer, aspi uint64) []wire.Payload {
	t.Helper()
	var ps []wire.Payload
	if !eventuallyT(func() bool { ps = response(t, a, b, aspi); return ps != nil }) {
		t.Fatal("B never answered")
	}
	return ps
}

func eapOf(t *testing.T, ps []wire.Payload) []byte {
	t.Helper()
	for _, p := range ps {
		if e, ok := p.(*wire.EAP); ok {
			return e.Message
		}
	}
	t.Fatalf("no EAP payload in %v", ps)
	return nil
}

func findP[T wire.Payload](ps []wire.Payload) T {
	var zero T
	for _, p := range ps {
		if x, ok := p.(T); ok {
			return x
		}
	}
	return zero
}

// TestEAPRelay: EAP-MD5 relayed to the AAA server (RFC 7296 §2.16):
//
//	IDi, IDr, SA, TSi, TSr (no AUTH)   -->  IDr, AUTH(PSK), EAP(Request/Identity)
//	EAP(Response/Identity "alice")     -->  [AAA: Challenge]  EAP(MD5-Challenge)
//	EAP(MD5 response)                  -->  [AAA: Accept]     EAP(Success)
//	AUTH(SK_pi: EAP-MD5 has no MSK)    -->  AUTH(SK_pr), SA, TSi, TSr
//
// B answers a request that waits for the AAA only when the AAA does, and
// absorbs the retransmissions meanwhile; the IKE SA and its child SA come
// up, and accounting hears the Start.
func TestEAPRelay(t *testing.T) {
	aaa := &fakeAAA{password: "alice-pw", hold: true}
	a, b, aspi, first, d := eapPair(t, aaa, true)

	resp := exchange(t, a, b, aspi, d, 1, first)
	idr, auth := findP[*wire.Identification](resp), findP[*wire.Auth](resp)
	if idr == nil || auth == nil {
		t.Fatalf("first response %v, want IDr, AUTH, EAP", resp)
	}
	idrBody, _ := idr.AppendBody(nil)
	if !bytes.Equal(auth.Data, a.e.AuthForTest(aspi, true, []byte("secret"), idrBody)) {
		t.Error("B's first AUTH is not the PSK's")
	}
	req := eapOf(t, resp)
	if req[0] != 1 || req[4] != 1 {
		t.Fatalf("first EAP %x, want a Request/Identity", req)
	}

	// Response/Identity: B asks the AAA and says nothing until it answers;
	// a retransmission meanwhile is absorbed.
	ident := append([]byte{2, req[1], 0, 10, 1}, "alice"...)
	if got := exchange(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: ident}}); got != nil {
		t.Fatalf("B answered before the AAA: %v", got)
	}
	if got := exchange(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: ident}}); got != nil {
		t.Fatalf("B answered a retransmission before the AAA: %v", got)
	}
	aaa.release()
	chal := eapOf(t, waitResponse(t, a, b, aspi))
	if chal[0] != 1 || chal[4] != 4 {
		t.Fatalf("relayed EAP %x, want the MD5-Challenge", chal)
	}
	if len(aaa.reqs) != 1 || aaa.reqs[0].UserName != "alice" || aaa.reqs[0].Peer != addrA {
		t.Fatalf("AAA requests %+v, want one for alice from A", aaa.reqs)
	}

	// The MD5 response (RFC 3748 §5.4: MD5 of Identifier, secret,
	// challenge), State echoed by the relay.
	h := md5.Sum(append(append([]byte{chal[1]}, "alice-pw"...), chal[6:22]...))
	md5resp := append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)
	send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: md5resp}})
	aaa.release()
	if ok := eapOf(t, waitResponse(t, a, b, aspi)); ok[0] != 3 {
		t.Fatalf("EAP %x, want Success", ok)
	}

	// The last round: AUTH with SK_pi (no MSK).
	idi := findP[*wire.Identification](first)
	idiBody, _ := idi.AppendBody(nil)
	last := exchange(t, a, b, aspi, d, 4, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: a.e.AuthForTest(aspi, false, nil, idiBody)}})
	auth = findP[*wire.Auth](last)
	if auth == nil || !bytes.Equal(auth.Data, a.e.AuthForTest(aspi, true, nil, idrBody)) {
		t.Fatalf("last response %v: no AUTH, or not computed with SK_pr", last)
	}
	if findP[*wire.SA](last) == nil || findP[*wire.TrafficSelectors](last) == nil {
		t.Fatalf("last response %v without the child SA", last)
	}
	if _, info := onlySA(t, b); info.State != "established" {
		t.Errorf("B's IKE SA is %s", info.State)
	}
	if n := len(b.dp.Children()); n != 1 {
		t.Errorf("B installed %d child SAs, want 1", n)
	}
	if len(aaa.acct) != 1 || aaa.acct[0].Status != engine.AcctStart || aaa.acct[0].UserName != "alice" {
		t.Errorf("accounting %+v, want one Start for alice", aaa.acct)
	}
	// Interim-Update: the session, same id, with its child SA.
	if in := b.e.AcctInterim(); len(in) != 1 || in[0].Status != engine.AcctInterim || len(in[0].Children) != 1 ||
		in[0].SessionID != aaa.acct[0].SessionID || in[0].UserName != "alice" {
		t.Errorf("AcctInterim %+v, want alice's session with its child SA", in)
	}
	if in := a.e.AcctInterim(); len(in) != 0 {
		t.Errorf("A, authenticated by no AAA, reports %d sessions", len(in))
	}
	// The Stop, as the SA goes, with the child SA still there to count.
	if err := b.e.FlushIKE(onlyUID(t, b)); err != nil {
		t.Fatal(err)
	}
	if len(aaa.acct) != 2 || aaa.acct[1].Status != engine.AcctStop || aaa.acct[1].SessionID != aaa.acct[0].SessionID || len(aaa.acct[1].Children) != 1 {
		t.Errorf("accounting %+v, want the Start then a Stop with the child SA", aaa.acct)
	}
}

func onlyUID(t *testing.T, p *peer) uint32 {
	t.Helper()
	sas := p.e.Snapshot(false)
	if len(sas) != 1 {
		t.Fatalf("%d IKE SAs, want 1", len(sas))
	}
	return sas[0].UniqueID
}

// TestEAPWithMSK: a key-generating method: both AUTH payloads of the last
// round are computed with the MSK (RFC 7296 §2.16); an AUTH computed
// with SK_pi instead is refused.
func TestEAPWithMSK(t *testing.T) {
	msk := bytes.Repeat([]byte{0x3c}, 64)
	for _, wrong := range []bool{false, true} {
		aaa := &fakeAAA{password: "alice-pw", msk: msk}
		a, b, aspi, first, d := eapPair(t, aaa, true)
		resp := exchange(t, a, b, aspi, d, 1, first)
		idrBody, _ := findP[*wire.Identification](resp).AppendBody(nil)
		req := eapOf(t, resp)
		send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
		chal := eapOf(t, waitResponse(t, a, b, aspi))
		h := md5.Sum(append(append([]byte{chal[1]}, "alice-pw"...), chal[6:22]...))
		send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)}})
		waitResponse(t, a, b, aspi)
		key := msk
		if wrong {
			key = nil
		}
		idiBody, _ := findP[*wire.Identification](first).AppendBody(nil)
		last := exchange(t, a, b, aspi, d, 4, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: a.e.AuthForTest(aspi, false, key, idiBody)}})
		if wrong {
			if !slices.Contains(notifies(last), wire.NotifyAuthenticationFailed) || len(b.e.IKESAs()) != 0 {
				t.Errorf("AUTH without the MSK: %v, B has %d SAs", last, len(b.e.IKESAs()))
			}
			continue
		}
		if auth := findP[*wire.Auth](last); auth == nil || !bytes.Equal(auth.Data, a.e.AuthForTest(aspi, true, msk, idrBody)) {
			t.Fatalf("B's last AUTH is not computed with the MSK: %v", last)
		}
	}
}

// TestEAPRefusals: a wrong password (Access-Reject: EAP-Failure and
// AUTHENTICATION_FAILED), no AAA server answering (AUTHENTICATION_FAILED),
// and a peer of an eap-radius VPN that authenticates with the VPN's PSK
// (refused: the PSK is the gateway's, not a credential of its peers);
// each time B drops the IKE SA.
func TestEAPRefusals(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		aaa := &fakeAAA{password: "alice-pw"}
		a, b, aspi, first, d := eapPair(t, aaa, true)
		req := eapOf(t, exchange(t, a, b, aspi, d, 1, first))
		send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
		chal := eapOf(t, waitResponse(t, a, b, aspi))
		h := md5.Sum(append(append([]byte{chal[1]}, "not-her-pw"...), chal[6:22]...))
		send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)}})
		ps := waitResponse(t, a, b, aspi)
		if e := eapOf(t, ps); e[0] != 4 || !slices.Contains(notifies(ps), wire.NotifyAuthenticationFailed) {
			t.Errorf("response %v, want EAP-Failure and AUTHENTICATION_FAILED", ps)
		}
		if len(b.e.IKESAs()) != 0 {
			t.Error("B kept the IKE SA")
		}
	})
	t.Run("malformed EAP", func(t *testing.T) {
		// RFC 3748 §4.1: a Length that is not the message's, or an
		// Identifier that is not our request's: refused, nothing relayed.
		for _, bad := range [][]byte{
			{2, 0, 0, 99, 1, 'a'},
			{1, 0, 0, 6, 1, 'a'},
		} {
			aaa := &fakeAAA{password: "alice-pw"}
			a, b, aspi, first, d := eapPair(t, aaa, true)
			req := eapOf(t, exchange(t, a, b, aspi, d, 1, first))
			bad[1] = req[1]
			got := exchange(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: bad}})
			if !slices.Contains(notifies(got), wire.NotifyAuthenticationFailed) || len(aaa.reqs) != 0 || len(b.e.IKESAs()) != 0 {
				t.Errorf("EAP %x: response %v, %d AAA requests, %d SAs", bad, got, len(aaa.reqs), len(b.e.IKESAs()))
			}
		}
	})
	t.Run("no AAA server", func(t *testing.T) {
		aaa := &fakeAAA{fail: errors.New("radius: no server answered (tried 127.0.0.1:1812)")}
		a, b, aspi, first, d := eapPair(t, aaa, true)
		req := eapOf(t, exchange(t, a, b, aspi, d, 1, first))
		send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
		if ps := waitResponse(t, a, b, aspi); !slices.Equal(notifies(ps), []wire.NotifyType{wire.NotifyAuthenticationFailed}) {
			t.Errorf("response %v, want AUTHENTICATION_FAILED", ps)
		}
		if len(b.e.IKESAs()) != 0 {
			t.Error("B kept the IKE SA")
		}
	})
	t.Run("PSK to an eap-radius VPN", func(t *testing.T) {
		aaa := &fakeAAA{password: "alice-pw"}
		a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
			ike.Vpn["from-a"].IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_eap_radius
		}, func(o *engine.Options) { o.AAA = aaa })
		establishTry(t, a, b)
		if len(b.e.IKESAs()) != 0 || len(aaa.reqs) != 0 {
			t.Errorf("B took the PSK of an eap-radius VPN for the peer's credential")
		}
	})
}

// TestEAPOnly: RFC 5998. To a VPN without a pre-shared-key of ours, a
// peer that sends EAP_ONLY_AUTHENTICATION gets no AUTH in the first
// response; EAP-MD5, which does not authenticate the gateway, is then
// refused once the AAA accepts (RFC 5998 §4); with the key of a VPN
// that has one, EAP_ONLY_AUTHENTICATION is ignored (our AUTH goes).
func TestEAPOnly(t *testing.T) {
	aaa := &fakeAAA{password: "alice-pw"}
	a, b, aspi, first, d := eapPair(t, aaa, false)
	first = append(first, wire.NewNotify(wire.NotifyEAPOnlyAuthentication, nil))
	resp := exchange(t, a, b, aspi, d, 1, first)
	if findP[*wire.Auth](resp) != nil || findP[*wire.Identification](resp) == nil {
		t.Fatalf("EAP-only first response %v, want IDr and EAP without AUTH", resp)
	}
	req := eapOf(t, resp)
	send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
	chal := eapOf(t, waitResponse(t, a, b, aspi))
	h := md5.Sum(append(append([]byte{chal[1]}, "alice-pw"...), chal[6:22]...))
	send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)}})
	if ps := waitResponse(t, a, b, aspi); !slices.Contains(notifies(ps), wire.NotifyAuthenticationFailed) {
		t.Errorf("EAP-only with EAP-MD5: %v, want AUTHENTICATION_FAILED", ps)
	}

	a, b, aspi, first, d = eapPair(t, &fakeAAA{password: "alice-pw"}, true)
	first = append(first, wire.NewNotify(wire.NotifyEAPOnlyAuthentication, nil))
	if resp := exchange(t, a, b, aspi, d, 1, first); findP[*wire.Auth](resp) == nil {
		t.Errorf("a VPN with its pre-shared-key: first response %v without our AUTH", resp)
	}
}

// eventuallyT polls cond for up to five seconds (the AAA answers on its
// own goroutine).
func eventuallyT(cond func() bool) bool {
	for range 500 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// establishTry runs IKE_SA_INIT and IKE_AUTH as establish does, without
// requiring that they succeed.
func establishTry(t *testing.T, a, b *peer) {
	t.Helper()
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request with AUTH (PSK)
	takeAll(b)
}

// TestEAPRadiusPool: vip-pool radius (the vsr guide's "from a RADIUS
// server"): the CFG_REQUEST of the first IKE_AUTH is answered in the
// last one with the Access-Accept's Framed-IP-Address and DNS server,
// and the accounting Start names that address.
func TestEAPRadiusPool(t *testing.T) {
	vip, dns := netip.MustParseAddr("10.9.0.5"), netip.MustParseAddr("10.9.0.53")
	aaa := &fakeAAA{password: "alice-pw", attrs: engine.AAAAttrs{FramedIP: vip, DNS: []netip.Addr{dns}}}
	a, b := pair(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		v := ike.Vpn["from-a"]
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_eap_radius
		v.VipPool = []string{"radius"}
		v.SecurityPolicy["net"].RemoteTs = nil
	}, func(o *engine.Options) { o.AAA = aaa })
	aspi, d, ps := authRequest(t, a, b)
	first := withoutAuth(ps)
	first = append(first, &wire.Configuration{CFGType: wire.CFGRequest, Attributes: []wire.CPAttribute{
		{Type: wire.CPInternalIP4Address}, {Type: wire.CPInternalIP4DNS}}})
	req := eapOf(t, exchange(t, a, b, aspi, d, 1, first))
	send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
	chal := eapOf(t, waitResponse(t, a, b, aspi))
	h := md5.Sum(append(append([]byte{chal[1]}, "alice-pw"...), chal[6:22]...))
	send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)}})
	waitResponse(t, a, b, aspi)
	idiBody, _ := findP[*wire.Identification](first).AppendBody(nil)
	last := exchange(t, a, b, aspi, d, 4, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: a.e.AuthForTest(aspi, false, nil, idiBody)}})
	cp := findP[*wire.Configuration](last)
	if cp == nil || cp.CFGType != wire.CFGReply {
		t.Fatalf("last response %v without CFG_REPLY", last)
	}
	want := []wire.CPAttribute{wire.CPAddr(wire.CPInternalIP4Address, vip), wire.CPAddr(wire.CPInternalIP4DNS, dns)}
	if len(cp.Attributes) != 2 || !bytes.Equal(cp.Attributes[0].Value, want[0].Value) || cp.Attributes[0].Type != want[0].Type ||
		!bytes.Equal(cp.Attributes[1].Value, want[1].Value) || cp.Attributes[1].Type != want[1].Type {
		t.Errorf("CFG_REPLY %v, want %v", cp.Attributes, want)
	}
	if len(aaa.acct) != 1 || aaa.acct[0].Attrs.FramedIP != vip {
		t.Errorf("accounting %+v, want a Start with Framed-IP-Address %s", aaa.acct, vip)
	}
}

// TestEAPCertificateGateway: the usual remote access: the gateway
// authenticates itself with its certificate (local-auth-method
// certificate: CERT and a signature AUTH in the first response, RFC 7296
// §2.16 message 4), the road warrior with EAP; the last AUTH payloads
// are shared-key MICs all the same.
func TestEAPCertificateGateway(t *testing.T) {
	sa, sb := twoCAs(t, pkitest.P256)
	aaa := &fakeAAA{password: "alice-pw"}
	a, b := pairOpts(t, useCerts, func(ike *generated.SecgwVrf_Vrf_Ike) {
		useCerts(ike)
		v := ike.Vpn["from-a"]
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_eap_radius
		v.IkePolicy.CaCertificate = nil
	}, func(o *engine.Options) { o.Config.PKI = sa.pki(t) }, func(o *engine.Options) {
		o.Config.PKI = sb.pki(t)
		o.AAA = aaa
	})
	aspi, d, ps := authRequest(t, a, b)
	first := withoutAuth(ps)
	resp := exchange(t, a, b, aspi, d, 1, first)
	auth := findP[*wire.Auth](resp)
	if findP[*wire.Certificate](resp) == nil || auth == nil || auth.Method == wire.AuthSharedKeyMIC {
		t.Fatalf("first response %v, want B's CERT and a signature AUTH", resp)
	}
	req := eapOf(t, resp)
	send(t, a, b, aspi, d, 2, []wire.Payload{&wire.EAP{Message: append([]byte{2, req[1], 0, 10, 1}, "alice"...)}})
	chal := eapOf(t, waitResponse(t, a, b, aspi))
	h := md5.Sum(append(append([]byte{chal[1]}, "alice-pw"...), chal[6:22]...))
	send(t, a, b, aspi, d, 3, []wire.Payload{&wire.EAP{Message: append([]byte{2, chal[1], 0, 22, 4, 16}, h[:]...)}})
	waitResponse(t, a, b, aspi)
	idiBody, _ := findP[*wire.Identification](first).AppendBody(nil)
	idrBody, _ := findP[*wire.Identification](resp).AppendBody(nil)
	last := exchange(t, a, b, aspi, d, 4, []wire.Payload{&wire.Auth{Method: wire.AuthSharedKeyMIC, Data: a.e.AuthForTest(aspi, false, nil, idiBody)}})
	if auth := findP[*wire.Auth](last); auth == nil || !bytes.Equal(auth.Data, a.e.AuthForTest(aspi, true, nil, idrBody)) {
		t.Fatalf("last response %v: B's shared-key AUTH missing or wrong", last)
	}
	if n := len(b.dp.Children()); n != 1 {
		t.Errorf("B installed %d child SAs, want 1", n)
	}
}
