package e2e

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"secgw/internal/ncclient"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// Kills of the crash test: while commits run, and while secgwd starts.
const (
	crashKills   = 200
	startupKills = 20 // divides crashKills
	// maxKillDelay bounds the random time between the start of the
	// commit loop and SIGKILL: a few commits at most, so that many kills
	// land while a commit is in flight.
	maxKillDelay = 30 * time.Millisecond
	// snapshotEvery makes the datastore write running in full and empty
	// its journal every few commits, so that kills land around snapshots
	// as well as journal appends.
	snapshotEvery = "3"
)

// TestKillAtRandomMoments runs commits in a loop over NETCONF against a
// secgwd process and SIGKILLs it at random moments, 200 times while it
// commits and 20 more while it starts, restarting it each time on the
// same data directory. Configuration version n (threads n, retransmit-
// tries n mod 101, and VPNs c<n-2>, c<n-1>, c<n>: each commit creates a
// VPN, removes one and changes two leaves) is a function of n, and after
// every restart the running configuration must be exactly version k for
// some k between the last commit secgwd acknowledged and the last one
// sent: never a mix of two versions, never an acknowledged commit lost.
// A recovered version is durable from then on: the next recovery may not
// go below it. secgwd runs with -snapshot-every 3, so that kills also land
// while it writes running.json in full and empties its journal.
func TestKillAtRandomMoments(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SECGW_CRASH_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SECGW_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (SECGW_CRASH_SEED replays its kill delays)", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	dir := newDataDir(t)
	// The next recovery must land in [acked, sent].
	var acked, sent int64
	var inFlight, keptUnacked, commits int
	var starting, checking time.Duration
	startedAt := time.Now()
	for round := 0; ; round++ {
		if round%(crashKills/startupKills) == crashKills/startupKills/2 {
			// A kill while secgwd loads its files and binds its port.
			killDuringStart(t, dir, time.Duration(rng.Int64N(int64(40*time.Millisecond))))
		}
		t0 := time.Now()
		d, err := launch(dir, "info", "-snapshot-every", snapshotEvery)
		if err != nil {
			t.Fatalf("round %d: restart: %v", round, err)
		}
		starting += time.Since(t0)
		t0 = time.Now()
		s, err := dialNetconf(d.Addr, adminUser, adminPassword)
		var k int64
		if err == nil {
			k, err = recoveredVersion(s)
		}
		if err != nil {
			d.Kill()
			t.Fatalf("round %d: %v\nsecgwd log:\n%s", round, err, d.Logs())
		}
		checking += time.Since(t0)
		if k < acked || k > sent {
			d.Kill()
			t.Fatalf("round %d: recovered version %d, want one between the last acknowledged (or recovered) "+
				"version %d and the last sent %d", round, k, acked, sent)
		}
		if sent > acked {
			inFlight++
			if k == sent {
				keptUnacked++
			}
		}
		if round == crashKills {
			s.Close()
			d.Kill()
			break
		}
		// From here version k is durable: it was read back from disk.
		loop := startCommitLoop(s, k)
		time.Sleep(time.Duration(rng.Int64N(int64(maxKillDelay))))
		d.Kill()
		acked, sent, err = loop.wait()
		s.Close()
		if err != nil {
			t.Fatalf("round %d: commit loop: %v\nsecgwd log:\n%s", round, err, d.Logs())
		}
		commits += int(acked - k)
	}
	t.Logf("%d kills while committing, %d while starting, in %v (mean restart %v, mean recovery check %v); "+
		"%d commits acknowledged; %d kills with a commit in flight, whose commit survived %d times",
		crashKills, startupKills, time.Since(startedAt).Round(time.Millisecond),
		(starting / (crashKills + 1)).Round(time.Millisecond/10), (checking / (crashKills + 1)).Round(time.Millisecond/10),
		commits, inFlight, keptUnacked)
	if inFlight < crashKills/10 {
		t.Errorf("only %d of %d kills landed with a commit in flight: the schedule tests too little", inFlight, crashKills)
	}
	if _, err := os.Stat(filepath.Join(dir, "config", "running.json")); err != nil {
		t.Errorf("no snapshot was ever written: %v", err)
	}
}

// killDuringStart starts secgwd and SIGKILLs it after delay, whether or
// not it serves yet.
func killDuringStart(t *testing.T, dir string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(secgwdBin, "-dir", dir, "-listen", "127.0.0.1:0", "-log-level", "error", "-dataplane", "fake", "-no-syslog", "-snapshot-every", snapshotEvery)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// commitLoop commits versions from+1, from+2, ... on a session until the
// session dies.
type commitLoop struct {
	acked, sent atomic.Int64
	done        chan error
}

func startCommitLoop(s *ncclient.Session, from int64) *commitLoop {
	l := &commitLoop{done: make(chan error, 1)}
	l.acked.Store(from)
	l.sent.Store(from)
	go func() {
		for n := from + 1; ; n++ {
			if _, err := s.Exec(gonetconf.RawMethod(versionEdit(n))); err != nil {
				l.done <- fatalRPC(err)
				return
			}
			l.sent.Store(n)
			if _, err := s.Exec(gonetconf.RawMethod(`<commit/>`)); err != nil {
				l.done <- fatalRPC(err)
				return
			}
			l.acked.Store(n)
		}
	}()
	return l
}

// wait returns the last acknowledged and the last sent version, or an
// error if secgwd refused an operation (rather than dying).
func (l *commitLoop) wait() (acked, sent int64, err error) {
	select {
	case err = <-l.done:
	case <-time.After(rpcTimeout + 5*time.Second):
		err = errors.New("the commit loop did not end after secgwd was killed")
	}
	return l.acked.Load(), l.sent.Load(), err
}

// fatalRPC keeps an rpc-error (secgwd refused the request) and drops the
// transport errors a kill causes.
func fatalRPC(err error) error {
	var rerr *gonetconf.RPCError
	if errors.As(err, &rerr) {
		return fmt.Errorf("rpc-error %s/%s: %s", rerr.Type, rerr.Tag, rerr.Message)
	}
	return nil
}

// vpnOf names the VPN version n creates, and gives its remote address.
func vpnOf(n int64) (string, string) {
	return fmt.Sprintf("c%d", n), fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// versionEdit turns version n-1 into version n.
func versionEdit(n int64) string {
	name, remote := vpnOf(n)
	old, _ := vpnOf(n - 3)
	return `<edit-config><target><candidate/></target>` + ikeConfig(fmt.Sprintf(
		`<global-options><retransmit-tries>%d</retransmit-tries><threads>%d</threads></global-options>`+
			`<vpn><name>%s</name><remote-address>%s</remote-address></vpn>`+
			`<vpn xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="remove"><name>%s</name></vpn>`,
		n%101, n, name, remote, old)) + `</edit-config>`
}

// versionData is the <data> of get-config at version n.
func versionData(n int64) string {
	var b strings.Builder
	b.WriteString(`<data><vrf xmlns="` + nsVRF + `"><name>main</name>`)
	if n > 0 {
		fmt.Fprintf(&b, `<ike xmlns="%s"><global-options><retransmit-tries>%d</retransmit-tries><threads>%d</threads></global-options>`,
			nsIKE, n%101, n)
		for j := max(1, n-2); j <= n; j++ {
			name, remote := vpnOf(j)
			fmt.Fprintf(&b, `<vpn><name>%s</name><remote-address>%s</remote-address></vpn>`, name, remote)
		}
		b.WriteString(`</ike>`)
	}
	b.WriteString(`</vrf></data>`)
	return b.String()
}

// recoveredVersion reads running from a restarted secgwd and returns its
// version, after checking that running is exactly that version.
func recoveredVersion(s *ncclient.Session) (int64, error) {
	reply, err := s.Exec(gonetconf.MethodGetConfig("running"))
	if err != nil {
		return 0, fmt.Errorf("get-config after restart: %w", err)
	}
	got, err := leaves(reply.Data)
	if err != nil {
		return 0, err
	}
	// The version is the highest VPN number; none means version 0.
	var n int64
	for _, l := range got {
		var v int64
		if _, err := fmt.Sscanf(l, "data/vrf[main]/ike/vpn[c%d]", &v); err == nil {
			n = max(n, v)
		}
	}
	want, err := leaves(versionData(n))
	if err != nil {
		return 0, err
	}
	if !slices.Equal(got, want) {
		return 0, fmt.Errorf("running is no committed version: got\n%s\nclosest version %d is\n%s",
			strings.Join(got, "\n"), n, strings.Join(want, "\n"))
	}
	return n, nil
}

// leaves flattens an XML document into sorted "path=value" lines, one per
// leaf; a list entry's path element carries its name key once the key
// has been read (keys come first, RFC 7950 §7.8.5).
func leaves(doc string) ([]string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	type frame struct {
		label    string
		text     strings.Builder
		children bool
	}
	var stack []*frame
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("get-config reply: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if len(stack) > 0 {
				stack[len(stack)-1].children = true
			}
			stack = append(stack, &frame{label: tok.Name.Local})
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tok)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.children {
				continue
			}
			path := make([]string, 0, len(stack)+1)
			for _, p := range stack {
				path = append(path, p.label)
			}
			value := strings.TrimSpace(f.text.String())
			out = append(out, strings.Join(append(path, f.label), "/")+"="+value)
			if f.label == "name" && len(stack) > 0 {
				stack[len(stack)-1].label += "[" + value + "]"
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
