package netconf

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/datastore"
	"secgw/internal/nacm"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// benchServer is a server without transport, over a store holding nothing.
func benchServer(b testing.TB) (*Server, *schema.Schema) {
	s, err := schema.Load()
	if err != nil {
		b.Fatal(err)
	}
	v, err := validate.New(s)
	if err != nil {
		b.Fatal(err)
	}
	st, err := datastore.Open(datastore.Options{Dir: filepath.Join(b.TempDir(), "c"), Schema: s, Validator: v})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	codec, err := xmlcodec.New(s)
	if err != nil {
		b.Fatal(err)
	}
	return &Server{cfg: Config{Store: st, Schema: s, Validator: v}, codec: codec}, s
}

// configOf parses doc, the content of a <config> element, as an inline
// <config> parameter.
func configOf(t testing.TB, doc []byte) *configContent {
	t.Helper()
	msg := append(append([]byte(`<config xmlns="`+NSBase+`">`), doc...), "</config>"...)
	dec := xml.NewDecoder(bytes.NewReader(msg))
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	var c configContent
	if err := c.UnmarshalXML(dec, tok.(xml.StartElement)); err != nil {
		t.Fatal(err)
	}
	return &c
}

// BenchmarkEditConfig10k is an edit-config of a 10k-VPN document into the
// candidate, checked as test-then-set checks it (checkWritten), then
// discarded.
func BenchmarkEditConfig10k(b *testing.B) {
	srv, s := benchServer(b)
	doc, err := srv.codec.Append(nil, configtest.Concentrator(b, s, 10000), xmlcodec.EncodeOptions{Config: true})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := srv.cfg.Store.Edit(1, srv.applyEdits(nil, configOf(b, doc), xmlcodec.OpMerge, true)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := srv.cfg.Store.Discard(1); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.SetBytes(int64(len(doc)))
}

// BenchmarkGetConfig10k answers get-config for a 10k-VPN running
// configuration.
func BenchmarkGetConfig10k(b *testing.B) { benchGetConfig(b, nil) }

// BenchmarkGetConfigNACM10k is BenchmarkGetConfig10k for a user whose
// group has three read rules (one VPN denied by a keyed path, a leaf of
// every VPN denied, the pre-shared keys granted): every node is checked.
func BenchmarkGetConfigNACM10k(b *testing.B) {
	p := nacm.Default()
	p.Groups = map[string][]string{"ops": {"alice"}}
	p.RuleLists = []nacm.RuleList{{Name: "ops", Groups: []string{"ops"}, Rules: []nacm.Rule{
		{Name: "a", Module: "*", Kind: nacm.DataNode, Path: []nacm.Step{{Name: "vrf", Key: "main", Keyed: true}, {Name: "ike"}, {Name: "vpn", Key: "vpn00042", Keyed: true}}, Ops: nacm.Read, Action: nacm.Deny},
		{Name: "b", Module: "*", Kind: nacm.DataNode, Path: nacm.Names("vrf", "ike", "vpn", "remote-id"), Ops: nacm.Read, Action: nacm.Deny},
		{Name: "c", Module: "*", Kind: nacm.DataNode, Path: nacm.Names("vrf", "ike", "vpn", "ike-policy", "pre-shared-key"), Ops: nacm.Read, Action: nacm.Permit},
	}}}
	benchGetConfig(b, p.For(nacm.User{Name: "alice", Role: RoleReadOnly}))
}

func benchGetConfig(b *testing.B, a *nacm.Access) {
	srv, s := benchServer(b)
	doc, err := srv.codec.Append(nil, configtest.Concentrator(b, s, 10000), xmlcodec.EncodeOptions{Config: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.cfg.Store.Edit(1, func(root schema.Node) error {
		return srv.applyConfig(nil, root, configOf(b, doc), xmlcodec.OpMerge)
	}); err != nil {
		b.Fatal(err)
	}
	if err := srv.cfg.Store.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		b.Fatal(err)
	}
	var out []byte
	opts := xmlcodec.EncodeOptions{Config: true, Secrets: true}
	if a != nil {
		opts.Read = srv.readCheck(a)
	}
	for b.Loop() {
		srv.cfg.Store.View(func(d *generated.Device) {
			out, err = srv.codec.Append(out[:0], d, opts)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Contains(out, []byte("vpn09999")) {
		b.Fatal("incomplete")
	}
	b.SetBytes(int64(len(out)))
}
