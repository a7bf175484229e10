package gateway

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/internal/netnsutil"
)

// libreswanRoot is where test/install-libreswan.sh unpacks Debian's
// libreswan 4.10 (its package conflicts with strongSwan's).
func libreswanRoot() string {
	if d := os.Getenv("SECGW_LIBRESWAN_DIR"); d != "" {
		return filepath.Join(d, "root")
	}
	return "/root/.cache/secgw/libreswan/root"
}

// pluto is one libreswan pluto in a namespace, with its own ipsec.conf,
// ipsec.secrets, NSS database and control socket.
type pluto struct {
	ns, dir, root string
}

// startPluto runs pluto in ns with conf as its ipsec.conf. Pluto execs
// its helpers from /usr/libexec/ipsec: the unpacked tree is bind-mounted
// there, in the private mount namespace ip netns exec gives it.
func startPluto(t *testing.T, ns, conf, secrets string) *pluto {
	t.Helper()
	p := &pluto{ns: ns, dir: t.TempDir(), root: libreswanRoot()}
	bin := filepath.Join(p.root, "usr/libexec/ipsec/pluto")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("gateway: libreswan's pluto missing (%v): run test/install-libreswan.sh", err)
	}
	if _, err := exec.LookPath("certutil"); err != nil {
		t.Fatal("gateway: certutil missing (libnss3-tools): run test/install-libreswan.sh")
	}
	for _, d := range []string{"nss", "run"} {
		os.MkdirAll(filepath.Join(p.dir, d), 0o700)
	}
	run(t, "certutil", "-N", "-d", "sql:"+filepath.Join(p.dir, "nss"), "--empty-password")
	os.WriteFile(filepath.Join(p.dir, "ipsec.conf"), []byte(conf), 0o600)
	os.WriteFile(filepath.Join(p.dir, "ipsec.secrets"), []byte(secrets), 0o600)
	log, err := os.Create(filepath.Join(p.dir, "pluto.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	script := fmt.Sprintf("mount --bind %s /usr/libexec && exec %s --config %s/ipsec.conf --nofork --stderrlog "+
		"--rundir %[4]s/run --dumpdir %[4]s/run --nssdir %[4]s/nss --secretsfile %[4]s/ipsec.secrets --ipsecdir %[4]s",
		filepath.Join(p.root, "usr/libexec"), bin, p.dir, p.dir)
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("gateway: starting pluto: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pluto log, last lines:\n%s", tail(p.readLog(), 60))
		}
	})
	if !eventually(cmdTimeout, func() bool { return strings.Contains(p.readLog(), "listening for IKE messages") }) {
		t.Fatalf("gateway: pluto did not start:\n%s", tail(p.readLog(), 40))
	}
	return p
}

func (p *pluto) readLog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "pluto.log"))
	return string(b)
}

// whack runs pluto's whack against its control socket.
func (p *pluto) whack(args ...string) (string, error) {
	return runErr("ip", append([]string{"netns", "exec", p.ns, filepath.Join(p.root, "usr/libexec/ipsec/whack"),
		"--ctlsocket", filepath.Join(p.dir, "run/pluto.ctl")}, args...)...)
}

// libreswanConf is pluto's side of the VPN: TCP only (enable-tcp=yes) to
// port 4500, and listening on TCP.
func libreswanConf(local, remote string) string {
	return `config setup
	listen-tcp=yes
conn secgw
	left=` + local + `
	leftid=@` + charonID + `
	leftsubnet=` + charonNet4 + `
	right=` + remote + `
	rightid=@` + gwID + `
	rightsubnet=` + gwNet4 + `
	authby=secret
	ikev2=insist
	enable-tcp=yes
	tcp-remoteport=4500
	auto=add
`
}

// kernelESPInTCP reports whether the kernel of namespace ns has espintcp
// (CONFIG_INET_ESPINTCP), the TCP upper-layer protocol libreswan puts on
// every IKE TCP stream, by trying it on a loopback connection there.
func kernelESPInTCP(t *testing.T, ns string) bool {
	t.Helper()
	var ok bool
	err := netnsutil.RunNamed(ns, func() error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(func(fd uintptr) {
			ok = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_ULP, "espintcp") == nil
		})
	})
	if err != nil {
		t.Fatalf("gateway: probing espintcp in %s: %v", ns, err)
	}
	return ok
}

// ulpFailed is pluto's log line when the kernel refuses espintcp, as
// responder (setsockopt(N, SOL_TCP, TCP_ULP, "espintcp") failed) or as
// initiator (setsockopt(SOL_TCP, TCP_ULP) failed).
var ulpFailed = regexp.MustCompile(`setsockopt\([^\n]*TCP_ULP[^\n]*\) failed`)

// TestTCPEncapLibreswan: secgwd and libreswan 4.10's pluto, UDP 500 and
// 4500 dropped between them (the three-namespace topology), whichever
// side initiates: secgwd with transport tcp to pluto's listen-tcp, pluto
// with enable-tcp=yes to secgwd's listen-tcp.
//
// Libreswan puts the kernel's espintcp on every IKE TCP stream, before
// any IKE message, and closes the stream when the kernel has none. Where
// the kernel has it, the test asserts the IKE SA over TCP established on
// both sides (secgwd's log, pluto's whack --status). Where it has not
// (this host's kernel and the qemu test kernel, Debian 12's, both lack
// CONFIG_INET_ESPINTCP), it asserts what runs: pluto's stream reached
// secgwd with a valid IKETCP prefix (secgwd accepts a stream only then),
// secgwd's stream reached pluto, and pluto closed both for want of
// espintcp, which secgwd logs; secgwd, the initiator of its stream,
// connects again.
func TestTCPEncapLibreswan(t *testing.T) {
	t.Parallel()
	requirePrerequisites(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("gateway: nft missing: the middle namespace blocks UDP with nftables (apt-get install nftables, or test/install-deps.sh)")
	}
	for _, initiator := range []string{"secgwd", "libreswan"} {
		t.Run(initiator+"-initiates", func(t *testing.T) {
			top := newTCPTopology(t)
			p := startPluto(t, top.b, libreswanConf(tcpB.String(), tcpA.String()),
				"@"+charonID+" @"+gwID+` : PSK "`+testPSK+`"`+"\n")
			gw := startGateway(t, top.a)
			gw.configure(t, append(tcpVPN(tcpA, tcpB, gwID, charonID, gwNet4, charonNet4, "vpn tcp ike-policy transport tcp"),
				"global-options listen-tcp true")...)
			espintcp := kernelESPInTCP(t, top.b)
			if initiator == "secgwd" {
				go gw.cli("", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
			} else {
				go p.whack("--name", "secgw", "--initiate")
			}
			if !espintcp {
				t.Log("the kernel has no espintcp (CONFIG_INET_ESPINTCP): libreswan cannot keep any TCP stream; checking the stream set-up only")
				want := map[string][]string{
					"secgwd":    {`msg="TCP stream connected"`, `msg="TCP stream closed by the peer"`, `msg="TCP stream lost, reconnecting"`},
					"libreswan": {`msg="TCP stream accepted" subsystem=network local=` + tcpA.String() + ` remote=` + tcpB.String()},
				}[initiator]
				if !eventually(20*time.Second, func() bool {
					for _, w := range want {
						if !strings.Contains(gw.readLog(), w) {
							return false
						}
					}
					return ulpFailed.MatchString(p.readLog())
				}) {
					t.Fatalf("want secgwd to log %q and pluto to fail on espintcp\nsecgwd:\n%s", want, tail(gw.readLog(), 30))
				}
				if n := top.udpDropped(t); initiator == "secgwd" && n != 0 {
					t.Errorf("secgwd with transport tcp sent %d UDP packets", n)
				}
				return
			}
			if !eventually(20*time.Second, func() bool {
				st, _ := p.whack("--status")
				return strings.Contains(st, "ESTABLISHED_IKE_SA") || strings.Contains(st, "established IKE SA")
			}) {
				st, _ := p.whack("--status")
				t.Fatalf("pluto has no established IKE SA:\n%s\nsecgwd:\n%s", tail(st, 30), tail(gw.readLog(), 30))
			}
			if !eventually(10*time.Second, func() bool { return strings.Contains(gw.readLog(), `msg="IKE SA established"`) }) {
				t.Fatalf("secgwd has no established IKE SA:\n%s", tail(gw.readLog(), 30))
			}
			if n := top.udpDropped(t); initiator == "secgwd" && n != 0 {
				t.Errorf("secgwd with transport tcp sent %d UDP packets", n)
			}
		})
	}
}
