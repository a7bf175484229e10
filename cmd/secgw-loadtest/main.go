// Command secgw-loadtest is the IKEv2 load generator and benchmark
// responder (internal/loadtest):
//
//	secgw-loadtest [initiate] -remote 10.98.0.2 -src 10.98.1.1-10.98.1.250 -n 10000 [-rate 0] [-c 128]
//	               [-group ecp256|ecp384|x25519] [-addke mlkem768[,mlkem1024]]
//	               [-hold 10m [-liveness 30s] [-ike-rekey 3m]] [-flood-rate 2000 [-flood-duration 30s]]
//	               (SIGUSR1 during -hold: Generator.Mark, the failover probe of make bench-ha)
//	secgw-loadtest responder -listen 10.98.0.2 [-cookie-threshold 0] [-block-threshold 0]
//	               [-init-limit-half-open 0] [-init-limit-job-load 0] [-ike-sa-limit 0]
//	               [-threads 16] [-sa-table-size 16384] [-sa-table-segments 64]
//	               [-dpd-delay 0] [-child-rekey-time 0] [-liveness 0] [-gc-percent 100] [-cpuprofile f] [-memprofile f]
//	               [-group ecp256|ecp384|x25519] [-addke mlkem768[,mlkem1024]]
//	secgw-loadtest stat PID
//	secgw-loadtest secgwd-config [-netconf 127.0.0.1:830] [-user admin] [the responder's configuration flags]
//	secgw-loadtest secgwd-count [-netconf 127.0.0.1:830] [-user admin]
//
// The responder prints "READY" once listening, a RESPONDER line of
// statistics on SIGUSR1, the same after a garbage collection on SIGUSR2,
// and a final one (and its profiles) on SIGTERM or SIGINT. stat prints the
// CPU time and resident memory of any process, the way the benchmark
// measures both charon and our responder. secgwd-config gives a secgwd
// the responder's configuration over NETCONF (password from
// SECGW_PASSWORD), and secgwd-count prints a SECGWD line counting its IKE
// SAs and child SAs by state, from its own state over NETCONF: the
// benchmark of secgwd itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"secgw/internal/ipsec"
	"secgw/internal/loadtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "initiate"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "initiate":
		return initiate(args, stdout, stderr)
	case "responder":
		return respond(args, stdout, stderr)
	case "stat":
		return stat(args, stdout, stderr)
	case "secgwd-config":
		return secgwdConfig(args, stdout, stderr)
	case "secgwd-count":
		return secgwdCount(args, stdout, stderr)
	case "pki":
		return pki(args, stderr)
	}
	fmt.Fprintf(stderr, "secgw-loadtest: unknown command %q (initiate, responder, stat, secgwd-config, secgwd-count, pki)\n", cmd)
	return 2
}

func initiate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secgw-loadtest initiate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	remote := fs.String("remote", "", "responder address[:port] (port 500 by default)")
	src := fs.String("src", "", "source addresses: a, a-b, prefix, comma-separated (default: the route's source towards -remote)")
	perAddr := fs.Int("sockets-per-addr", 1, "sockets (source ports) per source address")
	n := fs.Int("n", 1000, "tunnels to establish")
	rate := fs.Float64("rate", 0, "tunnel starts per second (0: as fast as -c allows)")
	conc := fs.Int("c", 128, "tunnels in flight at most")
	psk := fs.String("psk", "load-test-secret", "pre-shared key of every tunnel")
	certDir := fs.String("cert", "", "authenticate with the client certificate of this PKI directory (secgw-loadtest pki) instead of the PSK")
	idFormat := fs.String("id", "user%d@load.test", "identity format (fmt verb for the tunnel number)")
	idStart := fs.Int("id-start", 1, "number of the first identity")
	inner := fs.String("inner", "10.200.0.0/16", "prefix of the tunnels' inner addresses (TSi, one /32 each)")
	remoteTS := fs.String("remote-ts", "0.0.0.0/0", "TSr of every tunnel")
	noNATD := fs.Bool("no-natd", false, "omit the NAT_DETECTION notifications")
	childless := fs.Bool("childless", false, "IKE SAs without the first child SA (RFC 6023)")
	timeout := fs.Duration("timeout", 2*time.Second, "first retransmission timeout (doubles at each try)")
	tries := fs.Int("tries", 4, "transmissions of a request before the tunnel fails")
	hold := fs.Duration("hold", 0, "keep the SAs up this long after the setups, answering the responder")
	liveness := fs.Duration("liveness", 0, "during -hold, send a liveness check on every SA at this interval")
	ikeRekey := fs.Duration("ike-rekey", 0, "during -hold, rekey every IKE SA this long after it was set up or last rekeyed, then delete the old one (0: never)")
	floodRate := fs.Float64("flood-rate", 0, "half-open IKE_SA_INIT requests per second (0: no flood)")
	floodDur := fs.Duration("flood-duration", 0, "flood duration (0: the whole run)")
	floodSrc := fs.String("flood-src", "", "flood source addresses (default: -src)")
	floodPer := fs.Int("flood-sockets-per-addr", 4, "flood sockets (source ports) per address")
	progress := fs.Duration("progress", time.Second, "progress line interval on stderr (0: none)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the generator to this file")
	group := fs.String("group", "ecp256", "key exchange of IKE_SA_INIT: ecp256, ecp384, x25519")
	addKE := fs.String("addke", "", "additional key exchanges (RFC 9370 ADDKE1.., one IKE_INTERMEDIATE each), comma-separated: mlkem768, mlkem1024")
	vip := fs.Bool("vip", false, "ask for a virtual IP (CFG_REQUEST) and propose TSi 0.0.0.0/0; prints how many distinct addresses the tunnels got")
	vipOut := fs.String("vip-out", "", "with -vip, write 'identity address' of every established tunnel to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ra, err := parseRemote(*remote)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest:", err)
		return 2
	}
	var srcs []netip.Addr
	if *src == "" {
		a, err := sourceFor(ra)
		if err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest:", err)
			return 1
		}
		srcs = []netip.Addr{a}
	} else if srcs, err = loadtest.ParseAddrs(*src); err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest:", err)
		return 2
	}
	p := loadtest.DefaultProfile([]byte(*psk))
	p.IDFormat, p.IDStart, p.NATD, p.Childless, p.VIP = *idFormat, *idStart, !*noNATD, *childless, *vip
	if *certDir != "" {
		if p.Cert, err = loadtest.LoadCertAuth(*certDir, loadtest.PKIClient); err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest:", err)
			return 2
		}
	}
	g0, add, err := keyExchanges(*group, *addKE)
	if err == nil {
		err = p.SetKeyExchanges(g0, add)
	}
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest:", err)
		return 2
	}
	if p.Inner, err = netip.ParsePrefix(*inner); err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest: -inner:", err)
		return 2
	}
	if p.RemoteTS, err = netip.ParsePrefix(*remoteTS); err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest: -remote-ts:", err)
		return 2
	}
	o := loadtest.Options{Remote: ra, Sources: srcs, SocketsPerAddr: *perAddr, Count: *n, Rate: *rate,
		Concurrency: *conc, Profile: p, Timeout: *timeout, Tries: *tries, Hold: *hold, Liveness: *liveness, IKERekey: *ikeRekey,
		Flood: loadtest.FloodOptions{Rate: *floodRate, Duration: *floodDur, SocketsPerAddr: *floodPer}}
	if *floodSrc != "" {
		if o.Flood.Sources, err = loadtest.ParseAddrs(*floodSrc); err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest:", err)
			return 2
		}
	}
	if *progress > 0 {
		o.Progress, o.ProgressEvery = stderr, *progress
	}
	g, err := loadtest.New(o)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest:", err)
		return 1
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest:", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGUSR1 during -hold marks a failover (make bench-ha): a liveness
	// check on every held SA at once, then progress lines counting the
	// SAs answered since (loadtest.Generator.Mark).
	marks := make(chan os.Signal, 1)
	signal.Notify(marks, syscall.SIGUSR1)
	defer signal.Stop(marks)
	go func() {
		for range marks {
			g.Mark()
		}
	}()
	rep := g.Run(ctx)
	rep.Format(stdout)
	if *vip && !reportVIPs(g, p, *vipOut, stdout, stderr) {
		return 1
	}
	if rep.Failed() > 0 {
		return 1
	}
	return 0
}

// reportVIPs prints a VIPS line, the virtual IPs the tunnels got (how
// many, how many distinct), writes them to file if named, and reports
// whether they are all distinct.
func reportVIPs(g *loadtest.Generator, p loadtest.Profile, file string, stdout, stderr io.Writer) bool {
	vips := g.VIPs()
	seen := map[netip.Addr]bool{}
	got := 0
	var b strings.Builder
	for i, a := range vips {
		if !a.IsValid() {
			continue
		}
		got++
		seen[a] = true
		fmt.Fprintf(&b, p.IDFormat+" %s\n", p.IDStart+i, a)
	}
	fmt.Fprintf(stdout, "VIPS got=%d distinct=%d\n", got, len(seen))
	if file != "" {
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest:", err)
			return false
		}
	}
	return got == len(seen)
}

// parseRemote accepts an address or address:port; the port defaults to 500.
func parseRemote(s string) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, fmt.Errorf("-remote is required")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("-remote: %v", err)
	}
	return netip.AddrPortFrom(a, 500), nil
}

// sourceFor returns the address the kernel would send from towards ra (a
// connected UDP socket sends nothing).
func sourceFor(ra netip.AddrPort) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ra))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no route to %v: %w", ra, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// keyExchanges parses -group and -addke, and checks them as the
// generator's profile takes them.
func keyExchanges(group, addKE string) (ipsec.TransformID, []ipsec.TransformID, error) {
	g, err := loadtest.ParseKeyExchange(group)
	if err != nil {
		return 0, nil, fmt.Errorf("-group: %w", err)
	}
	add, err := loadtest.ParseKeyExchanges(addKE)
	if err != nil {
		return 0, nil, fmt.Errorf("-addke: %w", err)
	}
	p := loadtest.DefaultProfile([]byte("-"))
	if err := p.SetKeyExchanges(g, add); err != nil {
		return 0, nil, err
	}
	return g, add, nil
}

// responderFlags are the flags of the responder's configuration, which
// secgwd-config gives secgwd too.
type responderFlags struct {
	listen                                    *string
	port, nattPort                            *uint
	psk, id, localTS, remoteTS, cert          *string
	cookie, block, halfOpen, jobLoad, saLimit *uint
	threads, tableSize, tableSegs             *uint
	dpdDelay, childRekey, childLife           *time.Duration
	group, addKE                              *string
	pool                                      *string
}

func newResponderFlags(fs *flag.FlagSet) *responderFlags {
	return &responderFlags{
		listen:     fs.String("listen", "", "local addresses (a, a-b, prefix, comma-separated)"),
		port:       fs.Uint("port", 500, "IKE port"),
		nattPort:   fs.Uint("natt-port", 4500, "NAT-T port"),
		psk:        fs.String("psk", "load-test-secret", "pre-shared key"),
		cert:       fs.String("cert", "", "authenticate with the gw certificate of this PKI directory (secgw-loadtest pki) instead of the PSK"),
		id:         fs.String("id", "gw.load.test", "our identity (local-id)"),
		localTS:    fs.String("local-ts", "0.0.0.0/0", "security policy local-ts subnet"),
		remoteTS:   fs.String("remote-ts", "10.200.0.0/16", "security policy remote-ts subnet"),
		cookie:     fs.Uint("cookie-threshold", 0, "dos-protection cookie-threshold (0: never)"),
		block:      fs.Uint("block-threshold", 0, "dos-protection block-threshold (0: no limit)"),
		halfOpen:   fs.Uint("init-limit-half-open", 0, "dos-protection init-limit-half-open (0: no limit)"),
		jobLoad:    fs.Uint("init-limit-job-load", 0, "dos-protection init-limit-job-load (0: no limit)"),
		saLimit:    fs.Uint("ike-sa-limit", 0, "dos-protection ike-sa-limit (0: no limit)"),
		threads:    fs.Uint("threads", 16, "global-options threads (IKE workers)"),
		tableSize:  fs.Uint("sa-table-size", 16384, "global-options sa-table-size (buckets of the IKE SA table)"),
		pool:       fs.String("pool", "", "an ike pool of this address item (prefix, range) given to road warriors (vip-pool; remote-ts unset)"),
		tableSegs:  fs.Uint("sa-table-segments", 64, "global-options sa-table-segments (locked segments of the table)"),
		dpdDelay:   fs.Duration("dpd-delay", 0, "the VPN's dpd-delay: the engine's DPD on every SA (0: none)"),
		childRekey: fs.Duration("child-rekey-time", 0, "the child SAs' rekey-time, life-time 10 percent later (0: the model's default)"),
		childLife:  fs.Duration("child-life-time", 0, "the child SAs' life-time (0: rekey-time plus 10 percent)"),
		group:      fs.String("group", "ecp256", "the IKE proposal's dh-group: ecp256, ecp384, x25519"),
		addKE:      fs.String("addke", "", "additional key exchanges required (additional-key-exchange-1..), comma-separated: mlkem768, mlkem1024, ..."),
	}
}

// options checks the flags and returns the responder's options.
func (f *responderFlags) options() (loadtest.ResponderOptions, error) {
	addrs, err := loadtest.ParseAddrs(*f.listen)
	u32 := []*uint{f.cookie, f.block, f.halfOpen, f.jobLoad, f.saLimit, f.threads, f.tableSize, f.tableSegs}
	bad := err != nil || *f.port > 65535 || *f.nattPort > 65535 || *f.threads == 0 || *f.tableSize == 0 || *f.tableSegs == 0
	for _, v := range u32 {
		bad = bad || *v > 1<<32-1
	}
	if bad {
		return loadtest.ResponderOptions{}, fmt.Errorf("-listen, a port, a dos-protection limit, -threads or -sa-table-* invalid")
	}
	group, addKE, err := keyExchanges(*f.group, *f.addKE)
	if err != nil {
		return loadtest.ResponderOptions{}, err
	}
	return loadtest.ResponderOptions{Group: group, AddKE: addKE, Addrs: addrs, PortIKE: uint16(*f.port), PortNATT: uint16(*f.nattPort),
		PSK: *f.psk, Cert: *f.cert, LocalID: *f.id, LocalTS: *f.localTS, RemoteTS: *f.remoteTS, CookieThreshold: uint32(*f.cookie),
		BlockThreshold: uint32(*f.block), InitLimitHalfOpen: uint32(*f.halfOpen), InitLimitJobLoad: uint32(*f.jobLoad),
		IKESALimit: uint32(*f.saLimit), Threads: uint32(*f.threads), SATableSize: uint32(*f.tableSize),
		SATableSegments: uint32(*f.tableSegs), DPDDelay: *f.dpdDelay, ChildRekeyTime: *f.childRekey, ChildLifeTime: *f.childLife, Pool: *f.pool}, nil
}

func respond(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secgw-loadtest responder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rf := newResponderFlags(fs)
	liveness := fs.Duration("liveness", 0, "liveness check on every established SA at this interval through the API (0: none)")
	gcPercent := fs.Int("gc-percent", 100, "the Go collector's GOGC (memory kept per live byte)")
	level := fs.String("log-level", "warn", "engine log level: debug, info, warn, error, none")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile (in-use after GC) to this file at exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o, err := rf.options()
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
		return 2
	}
	debug.SetGCPercent(*gcPercent)
	logger, err := newLogger(*level, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
		return 2
	}
	o.Liveness, o.Logger = *liveness, logger
	r, err := loadtest.NewResponder(o)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
		return 1
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
			return 1
		}
		defer stopProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sig {
			if s == syscall.SIGUSR2 {
				runtime.GC()
				debug.FreeOSMemory()
			}
			st := r.Stats()
			st.Format(stdout)
		}
	}()
	fmt.Fprintln(stdout, "READY")
	err = r.Run(ctx)
	signal.Stop(sig)
	st := r.Stats()
	st.Format(stdout)
	if *memProfile != "" {
		if err := writeHeapProfile(*memProfile); err != nil {
			fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest responder:", err)
		return 1
	}
	return 0
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile shows what is live, not garbage
	return pprof.Lookup("heap").WriteTo(f, 0)
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "none":
		return slog.New(slog.DiscardHandler), nil
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown log level %q", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func stat(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: secgw-loadtest stat PID")
		return 2
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "secgw-loadtest stat: bad pid %q\n", args[0])
		return 2
	}
	ps, err := loadtest.ReadProcStats(pid)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest stat:", err)
		return 1
	}
	fmt.Fprintf(stdout, "cpu_s=%.2f rss_kb=%d\n", ps.CPU.Seconds(), ps.RSS/1024)
	return 0
}

// pki writes the PKI of a certificate run (bench-ike CERT=1) to -out.
func pki(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("secgw-loadtest pki", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write root.crt, gw.*, client.* to")
	if err := fs.Parse(args); err != nil || *out == "" {
		return 2
	}
	if err := loadtest.WritePKI(*out); err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest pki:", err)
		return 1
	}
	return 0
}
