package daemon

import (
	"os"
	"path/filepath"
	"secgw/internal/ncclient"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"
)

// TestLooseSecretFilesRefused starts on a data directory whose users
// file, journal, snapshot or history file is readable by others: New must
// refuse, naming the file, as the transport refuses such a host key.
// With mode 0600 the same directory starts.
func TestLooseSecretFilesRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	// A commit, so that running.json, the journal and a history file
	// exist.
	s, err := ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{
		`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
			`<ike xmlns="urn:secgw:yang:secgw-ike"><global-options><threads>6</threads></global-options></ike></vrf></config></edit-config>`,
		`<commit/>`,
	} {
		if _, err := s.Exec(gonetconf.RawMethod(op)); err != nil {
			t.Fatalf("%.40s: %v", op, err)
		}
	}
	s.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := []string{UsersFile, filepath.Join(ConfigDir, "journal")}
	if hist, _ := filepath.Glob(filepath.Join(dir, ConfigDir, "history", "*.json")); len(hist) > 0 {
		rel, _ := filepath.Rel(dir, hist[0])
		files = append(files, rel)
	}
	if _, err := os.Stat(filepath.Join(dir, ConfigDir, "running.json")); err == nil {
		files = append(files, filepath.Join(ConfigDir, "running.json"))
	}
	for _, f := range files {
		path := filepath.Join(dir, f)
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0644") {
			t.Errorf("start with %s at mode 0644: %v, want a refusal naming it", f, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err = New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
	if err != nil {
		t.Fatalf("start with every file at 0600: %v", err)
	}
	if err := run(t, d)(); err != nil {
		t.Fatal(err)
	}
}
