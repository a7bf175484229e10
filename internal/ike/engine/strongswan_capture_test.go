package engine_test

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"secgw/internal/ipsec"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// TestStrongSwanIKESAInit replays the IKE_SA_INIT request that charon
// (strongSwan 5.9.8) sent in the interop test (testdata/strongswan-
// ikeauth-*.json, written by test/strongswan with -update) to a
// responder and checks that it answers with the suite charon proposed. The
// decryption of the captured IKE_AUTH request with charon's keys is
// TestCapturedVectors in test/strongswan.
func TestStrongSwanIKESAInit(t *testing.T) {
	for _, name := range []string{"strongswan-ikeauth-aes256gcm.json", "strongswan-ikeauth-aes128cbc.json"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Encr    uint16 `json:"encr"`
				KeyBits int    `json:"key_bits"`
				Group   uint16 `json:"group"`
				Request string `json:"ike_sa_init_request"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			req, err := hex.DecodeString(v.Request)
			if err != nil {
				t.Fatal(err)
			}
			charon, ours := netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.1")
			r := newPeer(t, vpnConfig("from-charon", ours, netip.Addr{}, "secgw.example", "charon.example", "interop-secret",
				"192.168.1.0/24", "192.168.2.0/24"), ours, nil)
			r.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(ours, engine.PortIKE),
				Remote: netip.AddrPortFrom(charon, engine.PortIKE), Data: req})
			d, ok := r.net.Next()
			if !ok {
				t.Fatal("no answer to charon's IKE_SA_INIT request")
			}
			m, err := wire.Parse(d.Data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Header.Exchange != wire.ExchangeIKESAInit || !m.Header.Flags.Response() || m.Header.SPIr == 0 {
				t.Fatalf("answer %v", m)
			}
			sa, _ := m.Find(wire.PayloadSA).(*wire.SA)
			ke, _ := m.Find(wire.PayloadKE).(*wire.KE)
			if sa == nil || ke == nil || len(sa.Proposals) != 1 {
				t.Fatalf("answer without one chosen proposal and KE: %v", m)
			}
			if ke.Group != ipsec.TransformID(v.Group) {
				t.Errorf("KE group %v, want %d", ke.Group, v.Group)
			}
			found := false
			for _, tr := range sa.Proposals[0].Transforms {
				if kl, _ := tr.KeyLength(); tr.Type == ipsec.TransformEncr && tr.ID == ipsec.TransformID(v.Encr) && int(kl) == v.KeyBits {
					found = true
				}
			}
			if !found {
				t.Errorf("chosen proposal %+v, want encryption %d/%d", sa.Proposals[0], v.Encr, v.KeyBits)
			}
			if n := len(r.e.IKESAs()); n != 1 {
				t.Errorf("responder has %d IKE SAs, want 1 half-open", n)
			}
		})
	}
}
