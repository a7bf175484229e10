package xmlcodec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// yanglint, libyang's validator, judges the documents Encode writes. It
// is a test dependency (Debian package libyang2-tools); without it the
// tests fail rather than skip.

var yangModules = []string{
	"yang/ietf-inet-types.yang", "yang/ietf-yang-types.yang", "yang/secgw-types.yang",
	"yang/secgw-vrf.yang", "yang/secgw-ike.yang", "yang/secgw-ha.yang", "yang/secgw-kpi.yang",
	"yang/ietf-netconf-acm.yang",
}

// yanglint runs yanglint from the repository root on doc with the given
// flags and returns its standard output, its error output, and whether it
// exited 0.
func yanglint(t *testing.T, doc []byte, flags ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("yanglint")
	if err != nil {
		t.Fatal("yanglint missing: apt-get install libyang2-tools")
	}
	file := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-D", "-p", "yang"}, flags...)
	args = append(args, yangModules...)
	args = append(args, file)
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.."
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("running yanglint: %v", err)
	}
	return out.String(), errOut.String(), err == nil
}

// TestYanglintAcceptsReference validates the guide's configuration as
// Encode writes it for <get-config>, in each with-defaults mode that
// needs no extra module (report-all-tagged needs
// ietf-netconf-with-defaults for its attribute).
func TestYanglintAcceptsReference(t *testing.T) {
	s := loadSchema(t)
	d := referenceTree(t, s)
	for _, mode := range []DefaultsMode{Explicit, ReportAll, Trim} {
		for _, indent := range []string{"", "  "} {
			doc := encode(t, s, d, EncodeOptions{Config: true, Secrets: true, WithDefaults: mode, Indent: indent})
			_, stderr, ok := yanglint(t, doc, "-f", "json", "-t", "config")
			if !ok || stderr != "" {
				t.Errorf("%s: yanglint rejects the reference configuration (ok %v):\n%s", mode, ok, stderr)
			}
		}
	}
}

// TestYanglintReprint has yanglint print our explicit document back, as
// is and with its own with-defaults processing: libyang writes the same
// bytes as Encode in each mode (libyang's order of siblings is the one
// Encode follows, see StatementOrder).
func TestYanglintReprint(t *testing.T) {
	s := loadSchema(t)
	for _, name := range []string{"reference", "small"} {
		tree := referenceTree(t, s)
		if name == "small" {
			tree = smallTree(t, s)
		}
		explicit := encode(t, s, tree, EncodeOptions{Config: true, Secrets: true, Indent: "  "})
		for _, tc := range []struct {
			flag string
			mode DefaultsMode
		}{{"", Explicit}, {"all", ReportAll}, {"trim", Trim}} {
			flags := []string{"-f", "xml", "-t", "config"}
			if tc.flag != "" {
				flags = append(flags, "-d", tc.flag)
			}
			stdout, stderr, ok := yanglint(t, explicit, flags...)
			if !ok || stderr != "" {
				t.Fatalf("%s %s: yanglint fails:\n%s", name, tc.mode, stderr)
			}
			want := encode(t, s, tree, EncodeOptions{Config: true, Secrets: true, WithDefaults: tc.mode, Indent: "  "})
			if got := strings.TrimSuffix(stdout, "\n"); got != string(want) {
				t.Errorf("%s %s: yanglint prints\n%s\nEncode writes\n%s", name, tc.mode, got, want)
			}
		}
	}
}

// TestYanglintState validates a <get> document, state and secrets
// included, as a complete datastore.
func TestYanglintState(t *testing.T) {
	s := loadSchema(t)
	doc := encode(t, s, stateTree(t, s), EncodeOptions{Secrets: true})
	if _, stderr, ok := yanglint(t, doc, "-f", "json", "-t", "data"); !ok || stderr != "" {
		t.Errorf("yanglint rejects the state document:\n%s\n%s", stderr, doc)
	}
	// The same with -t config must fail: the judge sees the state.
	if _, _, ok := yanglint(t, doc, "-f", "json", "-t", "config"); ok {
		t.Error("yanglint -t config accepts state data")
	}
}

// TestYanglintRejectsBroken checks that the judge can fail: documents
// broken in the ways an encoder could break them are rejected.
func TestYanglintRejectsBroken(t *testing.T) {
	s := loadSchema(t)
	doc := string(encode(t, s, referenceTree(t, s), EncodeOptions{Config: true, Secrets: true}))
	for _, tc := range []struct{ name, doc, why string }{
		{"out of range", strings.Replace(doc, "<retransmit-tries>3<", "<retransmit-tries>300<", 1), "out of type uint8 min/max bounds"},
		{"wrong namespace", strings.Replace(doc, `<ike xmlns="urn:secgw:yang:secgw-ike">`, `<ike xmlns="urn:secgw:yang:secgw-ha">`, 1), `Node "ike" not found`},
		{"no namespace", strings.Replace(doc, `<ike xmlns="urn:secgw:yang:secgw-ike">`, `<ike xmlns="">`, 1), `No module with namespace ""`},
		{"unknown element", strings.Replace(doc, "<threads>", "<thread-count>1</thread-count><threads>", 1), `Node "thread-count" not found`},
		{"missing mandatory", strings.Replace(doc, "<secret>0sd0AgKts8ZnIs5QAo+TiMPUPwu/iXmuIxZjXg6WzECV0=</secret>", "", 1), `Mandatory node "secret"`},
		{"secrets omitted", string(encode(t, s, referenceTree(t, s), EncodeOptions{Config: true})), `Mandatory node "secret"`},
	} {
		if tc.doc == doc {
			t.Fatalf("%s: the document did not change", tc.name)
		}
		_, stderr, ok := yanglint(t, []byte(tc.doc), "-f", "json", "-t", "config")
		if ok || !strings.Contains(stderr, tc.why) {
			t.Errorf("%s: yanglint exit 0 %v, want a failure saying %q:\n%s", tc.name, ok, tc.why, stderr)
		}
	}
}
