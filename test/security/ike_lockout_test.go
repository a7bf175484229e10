package security

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
	"secgw/internal/poll"
	"secgw/test/secgwdtest"
)

// An off-path attacker cannot lock a peer out (block-threshold), against
// two real secgwd on loopback: A (127.0.0.1) initiates to B (127.0.0.2),
// whose dos-protection has its defaults
// (cookie-threshold 10, block-threshold 5). An attacker sends B
// IKE_SA_INIT requests with A's address as source, from a socket it
// binds to 127.0.0.1 and never reads: it is off-path for B's answers as
// far as the protocol goes (it never returns a cookie). Before the fix,
// five such requests made B ignore A for HalfOpenTimeout (60 s): A's
// initiate timed out. Now B asks 127.0.0.1 for cookies once it holds 5
// unverified half-open SAs for it, A returns its cookie and gets in.

// lockoutVictim and lockoutGateway are the two daemons' addresses.
const (
	lockoutVictim  = "127.0.0.1"
	lockoutGateway = "127.0.0.2"
)

// getBound is how long a <get> of another NETCONF session may take
// during the attack.
const getBound = time.Second

// freeIKEPort returns a port P such that P and P+1 are free on both
// loopback addresses (secgwd -ike-port P binds both on each daemon's
// address).
func freeIKEPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(lockoutVictim)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p >= 65534 {
			continue
		}
		ok := true
		for _, a := range []string{lockoutVictim, lockoutGateway} {
			for _, q := range []int{p, p + 1} {
				s, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(a), Port: q})
				if err != nil {
					ok = false
					continue
				}
				s.Close()
			}
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free pair of UDP ports on loopback")
	return 0
}

// spoofedInit returns IKE_SA_INIT requests B accepts (its default
// proposals, a KE of their first group, a nonce), each with a fresh
// SPIi; the KE is computed once, B never gets far enough to use it.
func spoofedInit(t *testing.T) func() []byte {
	t.Helper()
	props := config.DefaultIKEProposals()
	g := proposal.Groups(props[0])[0]
	dh, err := ikecrypto.NewDH(g, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ke := dh.PublicKey()
	return func() []byte {
		var spi [8]byte
		rand.Read(spi[:])
		ni := make([]byte, 32)
		rand.Read(ni)
		m := &wire.Message{
			Header: wire.Header{SPIi: binary.BigEndian.Uint64(spi[:]) | 1, MajorVersion: wire.MajorVersion,
				Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator},
			Payloads: []wire.Payload{&wire.SA{Proposals: props}, &wire.KE{Group: g, Data: ke}, &wire.Nonce{Data: ni}},
		}
		raw, err := m.Marshal()
		if err != nil {
			panic(err)
		}
		return raw
	}
}

// statistic reads one leaf of B's ike statistics.
func statistic(t *testing.T, st, leaf string) int {
	t.Helper()
	m := regexp.MustCompile(`<` + leaf + `>(\d+)</` + leaf + `>`).FindStringSubmatch(st)
	if m == nil {
		t.Fatalf("no %s in %s", leaf, st)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

const getStatistics = `<get><filter><vrf xmlns="` + secgwdtest.NsVRF + `"><ike xmlns="` + secgwdtest.NsIKE +
	`"><statistics/></ike></vrf></filter></get>`

func TestSpoofedIKELockout(t *testing.T) {
	port := freeIKEPort(t)
	ikePort := strconv.Itoa(port)
	a := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t), "-ike-port", ikePort)
	b := secgwdtest.Start(t, secgwdBin, secgwdtest.NewDataDir(t), "-ike-port", ikePort)
	const psk = "lockout-test-secret"
	sb := secgwdtest.MustDial(t, b.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	secgwdtest.MustRPC(t, sb, `<edit-config><target><candidate/></target>`+secgwdtest.IKEConfig(secgwdtest.VPNElem(psk,
		"from-a", "b-net", lockoutGateway, "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))+`</edit-config>`)
	secgwdtest.MustRPC(t, sb, `<commit/>`)
	sa := secgwdtest.MustDial(t, a.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	secgwdtest.MustRPC(t, sa, `<edit-config><target><candidate/></target>`+secgwdtest.IKEConfig(secgwdtest.VPNElem(psk,
		"to-b", "a-net", lockoutVictim, lockoutGateway, "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))+`</edit-config>`)
	secgwdtest.MustRPC(t, sa, `<commit/>`)
	reader := secgwdtest.MustDial(t, b.Addr, secgwdtest.ReaderUser, secgwdtest.ReaderPassword)

	// The attacker: a socket on the victim's address (another port),
	// never read.
	atk, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(lockoutVictim)})
	if err != nil {
		t.Fatal(err)
	}
	defer atk.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(lockoutGateway), uint16(port)))
	next := spoofedInit(t)
	var sent atomic.Int64
	spoof := func(n int) {
		for range n {
			if _, err := atk.WriteToUDP(next(), to); err == nil {
				sent.Add(1)
			}
		}
	}

	// Five spoofed requests: B holds block-threshold half-open SAs for
	// A's address.
	spoof(5)
	if !poll.Until(5*time.Second, func() bool {
		return statistic(t, secgwdtest.MustRPC(t, reader, getStatistics), "ike-sa-half-open") >= 5
	}) {
		t.Fatalf("B does not hold the 5 spoofed half-open IKE SAs:\n%s", b.Logs())
	}

	// The attack goes on (1000 requests a second) while A connects and
	// a reader polls B's state.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				spoof(10)
			}
		}
	}()
	var slowest time.Duration
	var gets int
	var getErr error
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if _, err := secgwdtest.RPC(reader, getStatistics); err != nil {
				getErr = err
				return
			}
			slowest = max(slowest, time.Since(start))
			gets++
			time.Sleep(50 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second) // the flood is under way
	start := time.Now()
	reply, err := secgwdtest.RPC(sa, `<initiate xmlns="`+secgwdtest.NsIKE+`"><child-sa><security-policy>a-net</security-policy></child-sa></initiate>`)
	took := time.Since(start)
	time.Sleep(time.Second) // the flood goes on after A is in
	close(stop)
	wg.Wait()

	if err != nil || !strings.Contains(reply, "established") {
		t.Fatalf("A's initiate during the attack (%v): %v %s\nB's log:\n%.4000s", took, err, reply, b.Logs())
	}
	if took > 10*time.Second {
		t.Errorf("A's tunnel took %v to come up", took)
	}
	if getErr != nil || gets == 0 || slowest > getBound {
		t.Errorf("B's <get> during the attack: %d answered, slowest %v (bound %v), error %v", gets, slowest, getBound, getErr)
	}
	st := secgwdtest.MustRPC(t, reader, getStatistics)
	if n := statistic(t, st, "ike-sa-established"); n != 1 {
		t.Errorf("B has %d established IKE SAs: %s", n, st)
	}
	if n := statistic(t, st, "ike-sa-half-open"); n > 5 {
		t.Errorf("B holds %d half-open IKE SAs for spoofed requests, block-threshold is 5: %s", n, st)
	}
	if n := statistic(t, st, "cookies-sent"); n < int(sent.Load())/2 {
		t.Errorf("B sent %d cookies for %d spoofed requests: %s", n, sent.Load(), st)
	}
	ikeSA := secgwdtest.MustRPC(t, reader, `<get><filter><vrf xmlns="`+secgwdtest.NsVRF+`"><ike xmlns="`+secgwdtest.NsIKE+`"><ike-sa/></ike></vrf></filter></get>`)
	if !strings.Contains(ikeSA, "<state>established</state>") || !strings.Contains(ikeSA, "<remote-address>"+lockoutVictim+"</remote-address>") {
		t.Errorf("B's IKE SAs: %.2000s", ikeSA)
	}
	// B's debug log does not grow by a line per spoofed packet.
	cookieLines := strings.Count(b.Logs(), `msg="asking for a cookie`)
	t.Logf("%d spoofed requests; A in after %v; %d <get> during the attack, slowest %v; B: %d cookie log lines, %s",
		sent.Load(), took, gets, slowest, cookieLines, compact(st))
	if cookieLines > 20 {
		t.Errorf("%d \"asking for a cookie\" lines for %d spoofed requests", cookieLines, sent.Load())
	}
}

// compact strips the XML of the statistics for the test log.
func compact(st string) string {
	out := regexp.MustCompile(`<([a-z-]+)>(\d+)</[a-z-]+>`).FindAllStringSubmatch(st, -1)
	var b strings.Builder
	for _, m := range out {
		fmt.Fprintf(&b, "%s=%s ", m[1], m[2])
	}
	return strings.TrimSpace(b.String())
}
