package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/ssh"

	"secgw/internal/dataplane"
	"secgw/internal/ncclient"
	"secgw/internal/poll"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run starts d.Run and returns a function that cancels it and returns
// what Run returned.
func run(t *testing.T, d *Daemon) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10 s of the cancellation")
			return nil
		}
	}
}

// TestFirstStartAndRestart runs a daemon in-process on a new directory:
// New creates the directory and the users file and reports the admin
// password, the NETCONF server answers on Addr with it, the logs carry
// the subsystem attribute, cancelling Run stops it cleanly; a second New
// on the same directory creates no password and finds the committed
// configuration.
func TestFirstStartAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs syncBuffer
	d, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pw := d.CreatedPassword()
	if pw == "" {
		t.Fatal("first start created no admin password")
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, %v", fi, err)
	}
	if b, err := os.ReadFile(d.UsersFile()); err != nil || bytes.Contains(b, []byte(pw)) {
		t.Fatalf("users file: %v; holds the clear password: %v", err, bytes.Contains(b, []byte(pw)))
	}
	if port := d.Addr().(*net.TCPAddr).Port; port == 0 {
		t.Fatal("Addr has no port")
	}
	stop := run(t, d)
	s, err := ncclient.Dial(d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(pw)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
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
		t.Fatalf("Run after cancel: %v", err)
	}
	for _, want := range []string{`msg="secgwd running" subsystem=daemon`, `subsystem=config`, `msg="secgwd stopped" subsystem=daemon`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}

	d2, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
	if err != nil {
		t.Fatal(err)
	}
	if d2.CreatedPassword() != "" {
		t.Error("second start created a password")
	}
	if got := d2.Store().Running().Vrf["main"].GetIke().GetGlobalOptions().GetThreads(); got != 6 {
		t.Errorf("after restart threads = %d, want 6", got)
	}
	if err := run(t, d2)(); err != nil {
		t.Fatal(err)
	}
}

// TestNewFails checks the errors New returns: a data directory that is a
// file, and a listen address already in use (after which the same
// directory still opens).
func TestNewFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: file, Listen: "127.0.0.1:0"}); err == nil || !strings.HasPrefix(err.Error(), "daemon: ") {
		t.Errorf("New on a file: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	_, err = New(Config{Dir: dir, Listen: ln.Addr().String(), Dataplane: DataplaneFake})
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !strings.HasPrefix(err.Error(), "daemon: ") {
		t.Errorf("New on a busy port: %v", err)
	}
	d, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
	if err != nil {
		t.Fatalf("New after a failed New on the same directory: %v", err)
	}
	if err := run(t, d)(); err != nil {
		t.Fatal(err)
	}
}

// TestAcquiresNotLoggedPerPacket: every packet that hits a trap policy
// raises an acquire; the daemon does not log them one by one, even at
// debug (the engine logs the negotiation one starts, once), while it
// still logs the other dataplane events.
func TestAcquiresNotLoggedPerPacket(t *testing.T) {
	var logs syncBuffer
	d, err := New(Config{Dir: filepath.Join(t.TempDir(), "data"), Listen: "127.0.0.1:0", Dataplane: DataplaneFake,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	defer stop()
	fake := d.dataplane.(*dataplane.Fake)
	for range 100 {
		fake.Emit(dataplane.Event{Kind: dataplane.Acquire})
	}
	fake.Emit(dataplane.Event{Kind: dataplane.SoftExpire, Reason: "bytes"})
	if !poll.Until(5*time.Second, func() bool { return strings.Contains(logs.String(), "event=soft-expire") }) {
		t.Fatalf("the expiry was not logged:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "event=acquire"); n != 0 {
		t.Fatalf("%d acquires logged", n)
	}
}
