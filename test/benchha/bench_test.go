package benchha

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"secgw/internal/loadtest"
	"secgw/test/charontest"
	"secgw/test/hatest"
	"secgw/test/secgwdtest"
)

var secgwdBin, secgwBin, loadtestBin string

func TestMain(m *testing.M) {
	if os.Getenv("SECGW_BENCH_HA") != "1" {
		fmt.Println("benchha: skipped (make bench-ha sets SECGW_BENCH_HA=1)")
		os.Exit(0)
	}
	if os.Geteuid() == 0 {
		hatest.SweepStale()
	}
	secgwdtest.Main(m, "benchha", func(dir string) {
		secgwdBin, secgwBin, loadtestBin = filepath.Join(dir, "secgwd"), filepath.Join(dir, "secgw"), filepath.Join(dir, "secgw-loadtest")
	}, "secgwd", "secgw", "secgw-loadtest")
}

// lostAfter is how long after the failover a tunnel that has not
// answered counts as lost (to be renegotiated): strongSwan gives a
// request up after about 165 s of retransmissions by default; 30 s keeps
// the run short and still tells a slow takeover from a lost SA.
const lostAfter = 30 * time.Second

// The targets of the benchmark.
const (
	targetRecover      = time.Second // 99 % of the tunnels answer again
	targetRenegotiated = 0
)

const (
	psk   = "load-test-secret"
	inner = "10.200.0.0/16"
	// srcs are the generator's source addresses, on the VIP's subnet.
	srcFirst, srcCount = 101, 100
)

func envInt(t *testing.T, name string, dflt int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return dflt
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("benchha: %s=%q is not a positive number", name, v)
	}
	return n
}

// generator is secgw-loadtest running in the peer namespace, its
// progress lines timestamped as they come.
type generator struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []line
	done  chan error
}

type line struct {
	at   time.Time
	text string
}

func startGenerator(t *testing.T, ns string, n, conc int) *generator {
	t.Helper()
	src := fmt.Sprintf("203.0.113.%d-203.0.113.%d", srcFirst, srcFirst+srcCount-1)
	g := &generator{done: make(chan error, 1)}
	g.cmd = exec.Command("ip", "netns", "exec", ns, loadtestBin, "-remote", hatest.PublicVIP.String(), "-src", src,
		"-n", strconv.Itoa(n), "-c", strconv.Itoa(conc), "-psk", psk, "-inner", inner, "-hold", "30m", "-progress", "100ms")
	pipe, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stderr = g.cmd.Stdout
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			g.mu.Lock()
			g.lines = append(g.lines, line{time.Now(), sc.Text()})
			g.mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
		g.done <- g.cmd.Wait()
	}()
	t.Cleanup(func() { g.stop() })
	return g
}

// wait returns the first line matching re after index from, with its
// index, waiting up to d.
func (g *generator) wait(re *regexp.Regexp, from int, d time.Duration) (line, []string, int, bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		for i := from; i < len(g.lines); i++ {
			if m := re.FindStringSubmatch(g.lines[i].text); m != nil {
				l := g.lines[i]
				g.mu.Unlock()
				return l, m, i, true
			}
		}
		g.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	return line{}, nil, 0, false
}

func (g *generator) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.lines)
}

func (g *generator) output() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b strings.Builder
	for _, l := range g.lines {
		if !strings.HasPrefix(l.text, "hold t=") && !strings.HasPrefix(l.text, "t=") {
			b.WriteString(l.text + "\n")
		}
	}
	return b.String()
}

// stop ends the hold (SIGINT: the generator prints its report).
func (g *generator) stop() {
	if g.cmd.Process == nil || g.cmd.ProcessState != nil {
		return
	}
	g.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-g.done:
	case <-time.After(10 * time.Second):
		g.cmd.Process.Kill()
		<-g.done
	}
}

// txBytes reads node ns's sync01 transmit counter.
func txBytes(t *testing.T, ns string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/sys/class/net/sync01/statistics/tx_bytes").CombinedOutput()
	n, perr := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("benchha: sync01 tx_bytes in %s: %v %v %s", ns, err, perr, out)
	}
	return n
}

var (
	holdRE   = regexp.MustCompile(`^hold: (\d+) SAs up`)
	markedRE = regexp.MustCompile(`^hold t=\S+ up=(\d+) answered-since-mark=(\d+) dead=(\d+) mark=true`)
)

func TestBenchHA(t *testing.T) {
	charontest.RequirePrerequisites(t, "benchha", charontest.Prereq{File: hatest.KeepalivedPath, Pkg: "keepalived"})
	n := envInt(t, "N", 10000)
	conc := envInt(t, "CONC", 128)
	o := loadtest.ResponderOptions{PSK: psk, LocalID: "gw.load.test", LocalTS: "0.0.0.0/0", RemoteTS: inner,
		Threads: 16, SATableSize: 16384, SATableSegments: 64}
	vpn, err := loadtest.SecgwdConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	// The VPN listens on the public VIP (SecgwdConfig's has no local
	// address: it would bind every address of the node).
	config := func(t testing.TB, id int) string {
		c := strings.Replace(string(vpn), "<vpn><name>load</name>", "<vpn><name>load</name><local-address>"+hatest.PublicVIP.String()+"</local-address>", 1)
		return hatest.WithHA(t, c, id)
	}
	var flags []string
	profile := os.Getenv("PROFILE") == "1"
	if profile {
		// Each node is in its own namespace: the same loopback port.
		flags = []string{"-pprof", pprofAddr}
	}
	p := hatest.StartPair(t, secgwdBin, secgwBin, hatest.PairOptions{Config: config, Flags: flags})
	n1, n2 := p.Nodes[0], p.Nodes[1]
	for i := range srcCount {
		hatest.IP(t, p.Top.Peer, fmt.Sprintf("addr add 203.0.113.%d/24 dev wan", srcFirst+i))
	}
	for i, want := range []string{"active", "standby"} {
		if s, ok := p.Nodes[i].WaitState(10*time.Second, func(s hatest.HAState) bool { return s.Role == want && s.PeerConnected }); !ok {
			t.Fatalf("benchha: node %d not %s with its sync link up: %+v", i+1, want, s)
		}
	}
	tx0 := txBytes(t, n1.NS)
	start := time.Now()
	gen := startGenerator(t, p.Top.Peer, n, conc)
	held, m, _, ok := gen.wait(holdRE, 0, 5*time.Minute)
	if !ok {
		t.Fatalf("benchha: the generator did not finish its setups:\n%s", gen.output())
	}
	up, _ := strconv.Atoi(m[1])
	setup := held.at.Sub(start)
	t.Logf("benchha: %d of %d tunnels up through the VIP in %v", up, n, setup.Round(time.Millisecond))
	s2, synced := n2.WaitState(3*time.Minute, func(s hatest.HAState) bool { return s.IKESynced >= uint64(up) })
	syncDone := time.Now()
	if !synced {
		t.Errorf("benchha: the standby holds %d of %d IKE SAs after 3 minutes", s2.IKESynced, up)
	}
	syncTime := syncDone.Sub(held.at)
	time.Sleep(time.Second) // the sync's last frames and acknowledgements
	bytesPerSA := float64(txBytes(t, n1.NS)-tx0) / float64(max(up, 1))

	// The failover under load: keepalived stops on node 1 (priority-0
	// adverts: node 2 takes the VIPs at once) and the generator checks
	// every tunnel at the same instant.
	from := gen.count()
	var profs []*exec.Cmd
	if profile {
		profs = startProfiles(t, p, outDir())
	}
	mark := time.Now()
	n1.KA.Terminate()
	gen.cmd.Process.Signal(syscall.SIGUSR1)
	notified, _ := n2.KA.WaitState("MASTER", 5*time.Second)
	var recover time.Duration
	recovered := false
	unanswered := -1
	at1s := -1.0 // percent answered one second after the mark
	for {
		l, m, i, ok := gen.wait(markedRE, from, 2*time.Second)
		if !ok {
			break
		}
		from = i + 1
		up, _ := strconv.Atoi(m[1])
		answered, _ := strconv.Atoi(m[2])
		unanswered = up - answered
		if at1s < 0 && l.at.Sub(mark) >= time.Second {
			at1s = float64(answered) * 100 / float64(max(up, 1))
		}
		if !recovered && answered*100 >= up*99 {
			recover, recovered = l.at.Sub(mark), true
		}
		if unanswered == 0 || l.at.Sub(mark) > lostAfter {
			break
		}
	}
	if at1s < 0 && unanswered == 0 {
		at1s = 100 // all answered within the first second
	}
	sas, err := loadtest.CountSecgwdSAs(n2.NC)
	if err != nil {
		t.Errorf("benchha: counting node 2's SAs: %v", err)
	}
	gen.stop()
	n1.KA.Stop()
	for _, c := range profs {
		_ = c.Wait()
	}

	ok = true
	verdict := func(met bool) string {
		ok = ok && met
		if met {
			return "MET"
		}
		return "NOT MET"
	}
	w := os.Stdout
	fmt.Fprintf(w, "\nbench-ha: %d tunnels (secgw-loadtest, ECP-256/AES-GCM-256/PSK, one child SA each) through the public VIP of the pair (userspace dataplane, keepalived VRRPv3 100 ms)\n", n)
	fmt.Fprintf(w, "  tunnels up on the active                 %d in %.1f s (%.0f/s)\n", up, setup.Seconds(), float64(up)/setup.Seconds())
	fmt.Fprintf(w, "  standby holds all of them                %.2f s after the last setup (ike-sa-synced %d)\n", syncTime.Seconds(), s2.IKESynced)
	fmt.Fprintf(w, "  sync link bytes per SA                   %.0f (node 1's sync01 tx, TCP/IP and hellos included)\n", bytesPerSA)
	fmt.Fprintf(w, "  failover (keepalived stopped on node 1)  node 2 notified %s %.3f s after\n", notified.State, timeOf(notified.Line).Sub(mark).Seconds())
	if recovered {
		fmt.Fprintf(w, "  99 %% of tunnels answer again            %.3f s  target < %.0f s  %s\n", recover.Seconds(), targetRecover.Seconds(), verdict(recover < targetRecover))
	} else {
		fmt.Fprintf(w, "  99 %% of tunnels answer again            never within %.0f s  target < %.0f s  %s\n", lostAfter.Seconds(), targetRecover.Seconds(), verdict(false))
	}
	fmt.Fprintf(w, "  tunnels answered 1 s after the failover   %.1f %%\n", at1s)
	fmt.Fprintf(w, "  tunnels unanswered %.0f s after            %d  target %d  %s\n", lostAfter.Seconds(), unanswered, targetRenegotiated, verdict(unanswered >= 0 && unanswered <= targetRenegotiated))
	fmt.Fprintf(w, "  node 2's SAs after the failover          IKE %v, child %v\n", sas.IKE, sas.Child)
	fmt.Fprintf(w, "  replay drops                             not measured here (the generator sends no ESP; test/ha counts charon's)\n")
	if !synced {
		verdict(false)
	}
	if ok {
		fmt.Fprintf(w, "bench-ha: all targets MET\n")
	} else {
		fmt.Fprintf(w, "bench-ha: some targets NOT MET\n")
		if os.Getenv("STRICT") == "1" {
			t.Fail()
		}
	}
	t.Logf("generator:\n%s", gen.output())
	// The logs, for a look at what the figures hide.
	out := outDir()
	if err := os.MkdirAll(out, 0o755); err == nil {
		for _, n := range p.Nodes {
			os.WriteFile(filepath.Join(out, fmt.Sprintf("secgwd-node%d.log", n.ID)), []byte(n.Logs()), 0o644)
			os.WriteFile(filepath.Join(out, fmt.Sprintf("notify-node%d.log", n.ID)), []byte(n.KA.NotifyLog()), 0o644)
		}
		gen.mu.Lock()
		var b strings.Builder
		for _, l := range gen.lines {
			fmt.Fprintf(&b, "%s %s\n", l.at.Format("15:04:05.000"), l.text)
		}
		gen.mu.Unlock()
		os.WriteFile(filepath.Join(out, "generator.log"), []byte(b.String()), 0o644)
		fmt.Fprintf(w, "bench-ha: logs in %s\n", out)
	}
}

// timeOf reads the time stamp of a notify log line (date +%s.%N).
func timeOf(l string) time.Time {
	f := strings.Fields(l)
	if len(f) == 0 {
		return time.Time{}
	}
	sec, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, int64(sec*1e9))
}

// outDir is where the logs (and profiles) go: OUT, or /tmp/secgw-bench-ha.
func outDir() string {
	if out := os.Getenv("OUT"); out != "" {
		return out
	}
	return "/tmp/secgw-bench-ha"
}

// pprofAddr is secgwd's -pprof address with PROFILE=1, inside each node's
// namespace.
const pprofAddr = "127.0.0.1:6060"

// startProfiles starts a 10 s CPU profile of both nodes' secgwd (PROFILE=1),
// into OUT/cpu-nodeN.pprof, to see where a failover's time goes (go tool
// pprof -focus SetRole ...).
func startProfiles(t *testing.T, p *hatest.Pair, dir string) []*exec.Cmd {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for _, n := range p.Nodes {
		c := exec.Command("ip", "netns", "exec", n.NS, "curl", "-s", "-o", filepath.Join(dir, fmt.Sprintf("cpu-node%d.pprof", n.ID)),
			"http://"+pprofAddr+"/debug/pprof/profile?seconds=10")
		if err := c.Start(); err != nil {
			t.Fatalf("benchha: profile of node %d: %v", n.ID, err)
		}
		cmds = append(cmds, c)
	}
	time.Sleep(200 * time.Millisecond) // the profiles run before the failover
	return cmds
}
