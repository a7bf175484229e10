package daemon

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/ncclient"
	"secgw/internal/netnsutil/netnstest"
)

// debugVRFRe finds the vrf of an ike-debug notification.
var debugVRFRe = regexp.MustCompile(`<ike-debug[^>]*>.*?<vrf>([^<]*)</vrf>`)

// recordLog keeps every record with the attributes of its logger.
type recordLog struct {
	mu    *sync.Mutex
	recs  *[]map[string]string
	attrs []slog.Attr
}

func newRecordLog() recordLog { return recordLog{mu: &sync.Mutex{}, recs: &[]map[string]string{}} }

func (recordLog) Enabled(context.Context, slog.Level) bool { return true }

func (h recordLog) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h recordLog) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h recordLog) WithGroup(string) slog.Handler { return h }

func (h recordLog) records() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]string(nil), *h.recs...)
}

// tunnelSubsystems are the log subsystems of a tunnel's life: its
// negotiation, its SAs and their dataplane and routes.
var tunnelSubsystems = map[string]bool{"ike": true, "child": true, "kernel": true, "ipsec": true, "manager": true,
	"encoding": true, "network": true, "job": true}

// TestLogsNameTheirVRF: every record of a tunnel's life, at every level
// (set up by an initiate, torn down by a flush), in vrf main and in vrf
// cust, names its vrf; with a debug filter set in each vrf (debug-ike
// with its vrf), the ike-debug notifications of both engines come, each
// naming its vrf.
func TestLogsNameTheirVRF(t *testing.T) {
	netnstest.RequireRoot(t)
	cust := netnstest.Name("vrfopsl", 1)
	netnstest.NewNamed(t, cust)
	la := newRecordLog()
	a := startGatewayLog(t, "a", 17600, la)
	b := startGateway(t, "b", 17600)
	for vrf, ts := range map[string]string{"main": "10.2.0.0/16", cust: "10.3.0.0/16"} {
		b.configureIn(t, vrf, vpnXML("v", "net", "127.0.0.2", "", "b.example", "a.example", ts, "10.1.0.0/16"))
		a.configureIn(t, vrf, vpnXML("v", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", ts))
	}
	mon, err := ncclient.Dial(a.d.Addr().String(), &ssh.ClientConfig{User: "admin",
		Auth: []ssh.AuthMethod{ssh.Password(a.d.CreatedPassword())}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if err := mon.Subscribe(); err != nil {
		t.Fatal(err)
	}
	debugVRFs := make(chan string, 100)
	go func() {
		for {
			msg, err := mon.NextNotification()
			if err != nil {
				close(debugVRFs)
				return
			}
			if m := debugVRFRe.FindSubmatch(msg); m != nil {
				select {
				case debugVRFs <- string(m[1]):
				default:
				}
			}
		}
	}()
	for _, vrf := range []string{"main", cust} {
		a.rpc(t, `<debug-ike xmlns="urn:secgw:yang:secgw-ike"><vrf>`+vrf+`</vrf><vpn>v</vpn></debug-ike>`)
	}
	for _, vrf := range []string{"main", cust} {
		out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><vrf>`+vrf+`</vrf><child-sa><security-policy>net</security-policy></child-sa></initiate>`)
		if !strings.Contains(out, "established") {
			t.Fatalf("initiate in vrf %s:\n%s", vrf, out)
		}
		a.rpc(t, `<flush xmlns="urn:secgw:yang:secgw-ike"><vrf>`+vrf+`</vrf><ike-sa><vpn>v</vpn></ike-sa></flush>`)
	}
	traced := map[string]bool{}
	for timeout := time.After(10 * time.Second); !traced["main"] || !traced[cust]; {
		select {
		case v, ok := <-debugVRFs:
			if !ok {
				t.Fatal("the notification session ended")
			}
			traced[v] = true
		case <-timeout:
			t.Fatalf("ike-debug notifications came from the vrfs %v, want main and %s", traced, cust)
		}
	}
	seen := map[string]int{}
	for _, r := range la.records() {
		if !tunnelSubsystems[r["subsystem"]] {
			continue
		}
		if r["vrf"] == "" {
			t.Errorf("a record of subsystem %s names no vrf: %v", r["subsystem"], r)
			continue
		}
		seen[r["vrf"]]++
	}
	if seen["main"] == 0 || seen[cust] == 0 {
		t.Errorf("records of the tunnels by vrf: %v", seen)
	}
	t.Logf("records of the tunnels by vrf: %v", seen)
}
