package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
	"secgw/internal/schema"
	"secgw/internal/support"
	"secgw/internal/xmlcodec"
)

const nsYangLibrary = "urn:ietf:params:xml:ns:yang:ietf-yang-library"

// yangModules are the modules yanglint loads to judge secgwd's output,
// relative to the repository root. ietf-yang-library and ietf-datastores
// are built into libyang.
var yangModules = []string{
	"yang/ietf-inet-types.yang", "yang/ietf-yang-types.yang", "yang/secgw-types.yang",
	"yang/secgw-vrf.yang", "yang/secgw-ike.yang", "yang/secgw-ha.yang", "yang/secgw-config.yang", "yang/secgw-kpi.yang",
	"yang/ietf-netconf-acm.yang",
}

// TestYanglint loads the vsr guide's reference configuration (what of it
// this release accepts: README, Status) into a live
// secgwd through copy-config and commit, and has libyang's yanglint judge
// what secgwd returns: <get-config> in the explicit, report-all and trim
// modes as a complete configuration datastore (-t config: types, keys,
// mandatory, must, when), and <get> with report-all, holding the vrf
// tree, the commit history, the RFC 8525 yang-library and the RFC 7895
// modules-state, as a complete datastore with state (-t data). It also
// checks that yanglint rejects damaged documents. The explicit get-config
// must also be
// byte for byte what xmlcodec writes for the tree in-process: nothing is
// lost or altered on the way through NETCONF and the datastore.
func TestYanglint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("yanglint")
	if err != nil {
		t.Fatal("yanglint missing: apt-get install libyang2-tools")
	}
	sch, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := xmlcodec.New(sch)
	if err != nil {
		t.Fatal(err)
	}
	// What this release refuses, and the XFRM interfaces (svti-id-in/out,
	// and inject-routes, which needs svti-id-out) that the fake dataplane
	// of the secgwd under test cannot honour.
	present := support.NewChecker(sch).Present
	refused := func(d *generated.Device) error {
		if err := present(d); err != nil {
			return err
		}
		for vn, v := range d.Vrf {
			if v.Ike == nil {
				continue
			}
			for _, vpn := range v.Ike.Vpn {
				for pn, sp := range vpn.SecurityPolicy {
					if sp.SvtiIdIn != nil || sp.SvtiIdOut != nil || sp.InjectRoutes != nil {
						return fmt.Errorf("vrf %s security-policy %s: svti-id needs the kernel dataplane", vn, pn)
					}
				}
			}
		}
		return nil
	}
	want, err := codec.Append(nil, configtest.ReferenceAccepted(t, sch, refused), xmlcodec.EncodeOptions{Config: true, Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, newDataDir(t))
	s := mustDial(t, d.Addr, adminUser, adminPassword)
	mustRPC(t, s, `<copy-config><target><candidate/></target><source><config>`+string(want)+`</config></source></copy-config>`)
	mustRPC(t, s, `<commit/>`)

	for _, mode := range []string{"", "report-all", "trim"} {
		req := `<get-config><source><running/></source>`
		if mode != "" {
			req += `<with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">` + mode + `</with-defaults>`
		}
		data := dataContent(t, mustRPC(t, s, req+`</get-config>`))
		if mode == "" && !bytes.Equal(data, want) {
			t.Errorf("get-config returns\n%s\nxmlcodec encodes the reference as\n%s", data, want)
		}
		if !bytes.Contains(data, []byte("<vpn>")) {
			t.Fatalf("get-config %s holds no VPN: %.300s", mode, data)
		}
		if out, ok := yanglint(t, bin, data, "-t", "config"); !ok {
			t.Errorf("yanglint -t config rejects get-config (with-defaults %q):\n%s", mode, out)
		}
	}
	get := dataContent(t, mustRPC(t, s, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"/>`+
		`<config-history xmlns="urn:secgw:yang:secgw-config"/><yang-library xmlns="`+nsYangLibrary+`"/>`+
		`<modules-state xmlns="`+nsYangLibrary+`"/>`+
		`</filter><with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">report-all</with-defaults></get>`))
	for _, part := range []string{"<vpn>", "<config-history", "<yang-library", "<modules-state", "<retransmit-base>"} {
		if !bytes.Contains(get, []byte(part)) {
			t.Fatalf("get lacks %s: %.300s", part, get)
		}
	}
	// -y implements libyang's own ietf-yang-library, whose deprecated
	// modules-state is mandatory state as well.
	if out, ok := yanglint(t, bin, get, "-y", "-t", "data"); !ok {
		t.Errorf("yanglint -t data rejects get with report-all:\n%s", out)
	}
	// The judge must be able to say no: a value out of range, an
	// element the model lacks.
	for _, damage := range [][2]string{
		{"<retransmit-tries>3</retransmit-tries>", "<retransmit-tries>300</retransmit-tries>"},
		{"<threads>20</threads>", "<threads>20</threads><no-such-leaf>1</no-such-leaf>"},
	} {
		bad := bytes.Replace(want, []byte(damage[0]), []byte(damage[1]), 1)
		if bytes.Equal(bad, want) {
			t.Fatalf("the reference configuration has no %s", damage[0])
		}
		if out, ok := yanglint(t, bin, bad, "-t", "config"); ok {
			t.Errorf("yanglint accepts a document with %s:\n%s", damage[1], out)
		}
	}
}

// dataContent returns what a <data> reply element holds.
func dataContent(t *testing.T, reply string) []byte {
	t.Helper()
	reply = strings.TrimSpace(reply)
	if strings.HasPrefix(reply, "<data/>") {
		return nil
	}
	start := strings.Index(reply, ">")
	end := strings.LastIndex(reply, "</data>")
	if !strings.HasPrefix(reply, "<data") || start < 0 || end < start {
		t.Fatalf("reply is not a <data> element: %.200s", reply)
	}
	return []byte(reply[start+1 : end])
}

// yanglint runs yanglint on doc (an XML document of top-level data nodes)
// with our modules and the given flags; it returns what yanglint wrote
// and whether it accepted the document (exit 0 and no message).
func yanglint(t *testing.T, bin string, doc []byte, flags ...string) (string, bool) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-p", "yang"}, flags...)
	args = append(append(args, yangModules...), file)
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("running yanglint: %v", err)
	}
	return stderr.String(), err == nil && stderr.Len() == 0
}
