package support

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/cliedit"
	"secgw/internal/datastore"
	"secgw/internal/golden"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func load(t *testing.T) (*schema.Schema, *validate.Validator) {
	t.Helper()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// configLeaves lists the schema paths of every configuration leaf and
// leaf-list of the model.
func configLeaves(e *yang.Entry, p string, out *[]string) {
	for _, c := range schema.DataChildren(e) {
		if !schema.IsConfig(c) {
			continue
		}
		cp := p + "/" + c.Name
		if c.IsLeaf() || c.IsLeafList() {
			*out = append(*out, cp)
			continue
		}
		configLeaves(c, cp, out)
	}
}

// TestEveryConfigLeafClassified walks the schema: every configuration
// leaf is honoured (Honoured) or refused (a row of Refused names it or a
// container above it), and neither list names a node the model does not
// have.
func TestEveryConfigLeafClassified(t *testing.T) {
	s, _ := load(t)
	var leaves []string
	configLeaves(s.Root, "", &leaves)
	if len(leaves) < 150 {
		t.Fatalf("only %d configuration leaves found: the walk is broken", len(leaves))
	}
	honoured := map[string]bool{}
	for _, h := range Honoured() {
		if honoured[h.Path] {
			t.Errorf("%s is in Honoured twice", h.Path)
		}
		honoured[h.Path] = true
	}
	refused := map[string]Row{}
	for _, r := range Refused() {
		refused[r.Path] = r
		if s.Find(strings.Split(strings.TrimPrefix(r.Path, "/"), "/")...) == nil {
			t.Errorf("Refused names %s, which is not in the model", r.Path)
		}
	}
	known := map[string]bool{}
	for _, l := range leaves {
		known[l] = true
		covered := false
		for p := l; p != ""; p = p[:strings.LastIndexByte(p, '/')] {
			if r, ok := refused[p]; ok && (p == l || !r.NonMainVRF) {
				covered = true
				if p != l && honoured[l] {
					t.Errorf("%s is honoured but %s, above it, is refused as a whole", l, p)
				}
			}
		}
		if !covered && !honoured[l] {
			t.Errorf("configuration leaf %s is neither honoured (support.Honoured) nor refused (support.Refused)", l)
		}
	}
	for p := range honoured {
		if !known[p] {
			t.Errorf("Honoured names %s, which is not a configuration leaf of the model", p)
		}
	}
}

// TestHonouredTestsExist: every test Honoured names exists in its file.
func TestHonouredTestsExist(t *testing.T) {
	files := map[string]string{}
	for _, h := range Honoured() {
		if h.Test == "" {
			continue
		}
		src, ok := files[h.File]
		if !ok {
			b, err := os.ReadFile(filepath.Join(root(), h.File))
			if err != nil {
				t.Errorf("%s: test file: %v", h.Path, err)
				continue
			}
			src = string(b)
			files[h.File] = src
		}
		if !regexp.MustCompile(`(?m)^func ` + h.Test + `\(`).MatchString(src) {
			t.Errorf("%s: %s has no func %s", h.Path, h.File, h.Test)
		}
	}
}

// baseLines are a valid configuration the refusal tests start from: VPN
// v1 with security policy sp1, templates it1 and pt1.
var baseLines = []string{
	"/ vrf main ike ike-policy-template it1 pre-shared-key base-secret-1",
	"/ vrf main ike ipsec-policy-template pt1 start-action none",
	"/ vrf main ike vpn v1 ike-policy template it1",
	"/ vrf main ike vpn v1 ipsec-policy template pt1",
	"/ vrf main ike vpn v1 local-address 192.0.2.1 remote-address 198.51.100.1",
	"/ vrf main ike vpn v1 security-policy sp1 local-ts subnet 10.1.0.0/24",
	"/ vrf main ike vpn v1 security-policy sp1 remote-ts subnet 10.2.0.0/24",
}

func set(s *schema.Schema, lines ...string) func(schema.Node) error {
	return func(root schema.Node) error {
		ed := &cliedit.Editor{S: s}
		for _, l := range lines {
			if _, err := ed.SetNode(root, nil, cliedit.Fields(l)); err != nil {
				return err
			}
		}
		return nil
	}
}

func openStore(t *testing.T, s *schema.Schema, v *validate.Validator) *datastore.Store {
	t.Helper()
	c := NewChecker(s)
	st, err := datastore.Open(datastore.Options{Dir: t.TempDir(), Schema: s, Validator: v, Check: c.Check})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Edit(1, set(s, baseLines...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	return st
}

// TestRefusedRowsRefused: for every row of Refused, a commit of its
// example fails with operation-not-supported at the node (and so does
// validate), and running stays as it was; the same configuration without
// the example commits.
func TestRefusedRowsRefused(t *testing.T) {
	s, v := load(t)
	for _, r := range Refused() {
		t.Run(r.Path, func(t *testing.T) {
			st := openStore(t, s, v)
			before := datastore.Clone(st.Running())
			if err := st.Edit(1, set(s, r.Example...)); err != nil {
				t.Fatalf("example %q: %v", r.Example, err)
			}
			for name, err := range map[string]error{"validate": st.Validate(), "commit": st.Commit(datastore.CommitOptions{Session: 1})} {
				var ve validate.Errors
				if !errors.As(err, &ve) {
					t.Fatalf("%s of %q: %v, want a refusal", name, r.Example, err)
				}
				found := false
				for _, e := range ve {
					if e.Kind != validate.KindNotSupported {
						t.Errorf("%s: %v, want only not-supported errors", name, e)
						continue
					}
					if e.ErrorTag() != "operation-not-supported" || e.AppTag() != "not-supported" {
						t.Errorf("%s: tags %s/%s", name, e.ErrorTag(), e.AppTag())
					}
					if schemaPathOf(e.Path) == r.Path && strings.Contains(e.Message, r.Feature) {
						found = true
					}
				}
				if !found {
					t.Errorf("%s of %q: %v, want the refusal of %s naming %q", name, r.Example, ve, r.Path, r.Feature)
				}
			}
			if d := datastore.Diff(s, before, st.Running()); len(d) != 0 {
				t.Errorf("running changed: %v", d)
			}
		})
	}
}

// TestAllowedValuesCommit: the honoured values of partly refused leaves
// and the defaults commit.
func TestAllowedValuesCommit(t *testing.T) {
	s, v := load(t)
	st := openStore(t, s, v)
	lines := []string{
		"/ vrf main ike vpn v1 security-policy sp1 action esp",
		"/ vrf main ike vpn v1 security-policy sp1 priority 0",
		"/ vrf main ike vpn v1 ike-policy local-auth-method pre-shared-key",
		"/ vrf main ike vpn v1 ike-policy remote-auth-method pre-shared-key-radius",
		"/ vrf main ike ike-policy-template it1 remote-auth-method eap-radius",
		"/ vrf main ike radius server 127.0.0.1 secret s3cret",
		"/ vrf main ike radius interim-interval 600",
		"/ vrf main ike vpn v1 ike-policy mobike false",
		"/ vrf main ike vpn v1 ike-policy require-ppk false",
		"/ vrf main ike ike-policy-template it1 mobike false",
		"/ vrf main ike global-options snmp false",
		"/ vrf main ike global-options sp-hash-ipv4 local 32 remote 32",
		"/ vrf main ike pool p1 address 10.8.0.0/24",
		"/ vrf main ike vpn v1 vip-pool p1",
		"/ vrf trusted",
	}
	if err := st.Edit(1, set(s, lines...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		t.Fatalf("commit of honoured values: %v", err)
	}
}

// TestCrossVRFCommits: the vsr guide's cross-vrf SVTI example (the
// README's walkthrough) commits: svti-id-in/out and inject-routes in a
// vrf other than main, inject-routes vrf trusted with a table, and
// another policy's l3vrf. (The dataplane of the vrf decides whether it
// runs them: ikesvc refuses svti-id without XFRM interfaces.)
func TestCrossVRFCommits(t *testing.T) {
	s, v := load(t)
	st := openStore(t, s, v)
	p := "/ vrf untrusted ike vpn myvpn "
	lines := []string{
		"/ vrf trusted",
		p + "local-address 192.0.2.1 remote-address 198.51.100.1",
		p + "ike-policy pre-shared-key MYVPN-KEY",
		p + "ipsec-policy start-action start",
		p + "security-policy mytunnel local-ts subnet 192.168.0.0/16",
		p + "security-policy mytunnel remote-ts subnet 10.0.0.0/8",
		p + "security-policy mytunnel svti-id-out 100",
		p + "security-policy mytunnel svti-id-in 100",
		p + "security-policy mytunnel inject-routes next-hop svti100",
		p + "security-policy mytunnel inject-routes vrf trusted",
		p + "security-policy mytunnel inject-routes table 300",
		p + "security-policy blue local-ts subnet 192.168.2.0/24",
		p + "security-policy blue remote-ts subnet 10.1.0.0/16",
		p + "security-policy blue svti-id-out 101",
		p + "security-policy blue inject-routes next-hop svti101 vrf trusted l3vrf blue",
	}
	if err := st.Edit(1, set(s, lines...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		t.Fatalf("commit of the cross-vrf example: %v", err)
	}
}

// TestPresent: Present finds the refused nodes of a whole tree (what an
// older release committed), none in the base configuration.
func TestPresent(t *testing.T) {
	s, v := load(t)
	st := openStore(t, s, v)
	c := NewChecker(s)
	if err := c.Present(st.Running()); err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	d := datastore.Clone(st.Running())
	if err := set(s, "/ vrf main ike vpn v1 ike-policy local-auth-method pre-shared-key-radius", "/ vrf main ike global-options snmp true")(s.RootNode(d)); err != nil {
		t.Fatal(err)
	}
	var ve validate.Errors
	if err := c.Present(d); !errors.As(err, &ve) || len(ve) != 2 {
		t.Fatalf("Present: %v, want local-auth-method pre-shared-key-radius and snmp", err)
	}
}

// TestReadmeStatus: the README's Status table is Status() (-update
// rewrites it).
func TestReadmeStatus(t *testing.T) {
	s, _ := load(t)
	b, err := os.ReadFile(filepath.Join(root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- status: begin (internal/support.Status) -->\n", "<!-- status: end -->"
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no status table between %q and %q", begin, end)
	}
	if got, want := readme[i+len(begin):j], Status(s); got != want {
		if golden.Update() {
			readme = readme[:i+len(begin)] + want + readme[j:]
			if err := os.WriteFile(filepath.Join(root(), "README.md"), []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README.md's status table is stale (go test ./internal/support -run TestReadmeStatus -update); it must read:\n%s", want)
	}
}

// schemaPathOf strips the keys of an instance identifier.
func schemaPathOf(p string) string {
	return regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(p, "")
}

// TestNonMainVRFCommits: a vrf other than main runs IKE: a
// VPN there, with its global options, commits, the same VPN name as
// main's.
func TestNonMainVRFCommits(t *testing.T) {
	s, v := load(t)
	st := openStore(t, s, v)
	lines := append(redVPN(), "/ vrf red ike global-options threads 2", "/ vrf red ike vpn v1 ike-policy mobike false")
	if err := st.Edit(1, set(s, lines...)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(datastore.CommitOptions{Session: 1}); err != nil {
		t.Fatalf("a VPN in vrf red: %v", err)
	}
}
