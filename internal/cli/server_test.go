package cli

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"secgw/internal/datastore"
	"secgw/internal/netconf"
	"secgw/internal/schema"
	"secgw/internal/validate"
)

// server is secgw's NETCONF server on loopback, built the way
// internal/netconf's own tests build it: a datastore in a temporary
// directory, the validator, an admin and a read-only user.
type server struct {
	addr  string
	store *datastore.Store
	s     *schema.Schema
	srv   *netconf.Server
}

func startServer(t testing.TB, rpcs map[string]netconf.RPCHandler) *server {
	t.Helper()
	dir := t.TempDir()
	s := loadSchema(t)
	v, err := validate.New(s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := datastore.Open(datastore.Options{Dir: filepath.Join(dir, "config"), Schema: s, Validator: v})
	if err != nil {
		t.Fatal(err)
	}
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	users, err := netconf.ParseUsers([]byte(`{"users": [
		{"name": "admin", "role": "admin", "password": "` + hash("test-admin-pw") + `"},
		{"name": "reader", "role": "read-only", "password": "` + hash("test-reader-pw") + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := netconf.Config{Dir: dir, Store: st, Schema: s, Validator: v, Users: users,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.RPCs = rpcs
	srv, err := netconf.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); st.Close() })
	return &server{addr: ln.Addr().String(), store: st, s: s, srv: srv}
}

// dial connects a NetconfBackend as user.
func (sv *server) dial(t testing.TB, user, pw string) *NetconfBackend {
	t.Helper()
	host, port, _ := net.SplitHostPort(sv.addr)
	p, _ := strconv.Atoi(port)
	nb, err := Dial(DialConfig{Host: host, Port: p, User: user, Password: pw}, Keep(sv.s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	return nb
}

// cli returns a CLI talking to the server as admin, and its output.
func (sv *server) cli(t testing.TB) (*CLI, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return New(sv.s, sv.dial(t, "admin", "test-admin-pw"), &buf), &buf
}
