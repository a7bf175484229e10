package espcapture

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/internal/esp"
	"secgw/internal/golden"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil/netnstest"
	"secgw/test/charontest"
)

const testdata = "../../internal/esp/testdata"

// suite is one ESP proposal of charon with our transform IDs.
type suite struct {
	file, proposal string
	encr, integ    ipsec.TransformID
	esn            bool
}

var suites = []suite{
	{"strongswan-aes128gcm16.json", "aes128gcm16", ipsec.EncrAESGCM16, ipsec.IntegNone, false},
	{"strongswan-aes256gcm16.json", "aes256gcm16", ipsec.EncrAESGCM16, ipsec.IntegNone, false},
	{"strongswan-chacha20poly1305.json", "chacha20poly1305", ipsec.EncrChaCha20Poly1305, ipsec.IntegNone, false},
	{"strongswan-aes128-sha1.json", "aes128-sha1", ipsec.EncrAESCBC, ipsec.IntegHMACSHA1_96, false},
	{"strongswan-aes256-sha256.json", "aes256-sha256", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_256_128, false},
	{"strongswan-aes128-sha384.json", "aes128-sha384", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_384_192, false},
	{"strongswan-aes256-sha512.json", "aes256-sha512", ipsec.EncrAESCBC, ipsec.IntegHMACSHA2_512_256, false},
}

// Vector is the JSON of one capture (internal/esp reads the same shape).
type Vector struct {
	Comment  string   `json:"comment"`
	Proposal string   `json:"charon_esp_proposal"`
	Encr     uint16   `json:"encr"`
	Integ    uint16   `json:"integ"`
	ESN      bool     `json:"esn"`
	Packets  []Packet `json:"packets"`
}

// Packet is one captured datagram's ESP payload with its SA's keys and
// the inner packet it decrypts to.
type Packet struct {
	Direction string `json:"direction"` // "initiator->responder" or back
	SPI       string `json:"spi"`
	EncrKey   string `json:"encr_key"`
	IntegKey  string `json:"integ_key,omitempty"`
	Seq       uint64 `json:"seq"`
	ESP       string `json:"esp"`
	Inner     string `json:"inner"`
}

var (
	left, right     = netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
	leftIn, rightIn = netip.MustParseAddr("192.168.11.1"), netip.MustParseAddr("192.168.12.1")
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("espcapture: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func prerequisites(t *testing.T) {
	t.Helper()
	charontest.RequirePrerequisites(t, "espcapture")
}

// startCharon starts charon in namespace ns (charontest.Start), logging
// the child keys (chd=4) that decrypt the capture.
func startCharon(t *testing.T, ns string) *charontest.Charon {
	t.Helper()
	return charontest.Start(t, ns, charontest.Options{LogLevels: "chd = 4"})
}

func swanctlConf(local, remote, localTS, remoteTS netip.Addr, proposal string) string {
	return charontest.Conn{Name: "c", LocalAddrs: local.String(), RemoteAddrs: remote.String(), Proposals: "aes256-sha256-x25519",
		ESPProposals: proposal, LocalTS: localTS.String() + "/32", RemoteTS: remoteTS.String() + "/32",
		Local: charontest.Auth{Method: "psk", ID: local.String()}, Remote: charontest.Auth{Method: "psk", ID: remote.String()},
		Secrets: []string{charontest.PSKSecret("c", "capture-psk", local.String(), remote.String())}}.String()
}

// childSPIs returns the in and out SPIs of the single CHILD_SA.
func childSPIs(t *testing.T, c *charontest.Charon) (in, out uint32) {
	t.Helper()
	raw := run(t, "swanctl", "--list-sas", "--raw", "--uri", c.URI)
	mi := regexp.MustCompile(`spi-in=([0-9a-f]{8})`).FindStringSubmatch(raw)
	mo := regexp.MustCompile(`spi-out=([0-9a-f]{8})`).FindStringSubmatch(raw)
	if mi == nil || mo == nil {
		t.Fatalf("espcapture: no CHILD_SA in\n%s", raw)
	}
	i, _ := strconv.ParseUint(mi[1], 16, 32)
	o, _ := strconv.ParseUint(mo[1], 16, 32)
	return uint32(i), uint32(o)
}

// dumps returns the last hexdump of each label of a charon log
// ("encryption initiator key => 20 bytes @ 0x..." then "  0: 6D BD ...").
func dumps(log string) map[string][]byte {
	head := regexp.MustCompile(`\[\w+\] (.+?) => (\d+) bytes @`)
	line := regexp.MustCompile(`\[\w+\]\s+\d+: ((?:[0-9A-F]{2} ?)+)`)
	out := map[string][]byte{}
	lines := strings.Split(log, "\n")
	for i := 0; i < len(lines); i++ {
		m := head.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		var b []byte
		for len(b) < n && i+1 < len(lines) {
			d := line.FindStringSubmatch(lines[i+1])
			if d == nil {
				break
			}
			i++
			for _, f := range strings.Fields(d[1]) {
				if len(b) < n {
					x, _ := hex.DecodeString(f)
					b = append(b, x...)
				}
			}
		}
		if len(b) == n { // the last dump wins: the newest CHILD_SA
			out[m[1]] = b
		}
	}
	return out
}

// capturer reads IP packets from an interface with AF_PACKET.
type capturer struct{ fd int }

func newCapturer(t *testing.T, ns, ifname string) *capturer {
	t.Helper()
	c := &capturer{}
	netnstest.InNamed(t, ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		// ETH_P_ALL: a socket for one protocol sees only received
		// packets; the transmit tap feeds ETH_P_ALL sockets alone.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		c.fd = fd
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	t.Cleanup(func() { unix.Close(c.fd) })
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// espDatagrams returns the ESP payloads of UDP port-4500 datagrams
// captured until d passes.
func (c *capturer) espDatagrams(d time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 65536)
	for end := time.Now().Add(d); time.Now().Before(end); {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil || n < 28 || buf[0]>>4 != 4 || buf[9] != 17 {
			continue
		}
		ihl := int(buf[0]&15) * 4
		udp := buf[ihl:n]
		if len(udp) < 8 || binary.BigEndian.Uint16(udp[2:]) != 4500 {
			continue
		}
		if p := udp[8:]; ipsec.ClassifyNATT(p) == ipsec.PacketESP {
			out = append(out, append([]byte(nil), p...))
		}
	}
	return out
}

// icmpFrom opens a raw ICMP socket on src in namespace ns.
func icmpFrom(t *testing.T, ns string, src netip.Addr) net.PacketConn {
	t.Helper()
	var c net.PacketConn
	netnstest.InNamed(t, ns, func() (err error) {
		c, err = net.ListenPacket("ip4:icmp", src.String())
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// sendEchos sends n ICMP echo requests to dst.
func sendEchos(c net.PacketConn, dst netip.Addr, n int) {
	for i := 1; i <= n; i++ {
		msg := make([]byte, 8+32)
		msg[0] = 8
		binary.BigEndian.PutUint16(msg[4:], 0x5ec9)
		binary.BigEndian.PutUint16(msg[6:], uint16(i))
		copy(msg[8:], "secgw esp capture from strongSwan")
		binary.BigEndian.PutUint16(msg[2:], csum(msg))
		c.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()})
		time.Sleep(20 * time.Millisecond)
	}
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// open decrypts one captured ESP packet with the given keys.
func open(s suite, spi uint32, ekey, ikey, pkt []byte) ([]byte, byte, uint64, error) {
	in, err := esp.NewInbound(esp.Config{SPI: spi, Encr: s.encr, EncrKey: ekey, Integ: s.integ, IntegKey: ikey, ESN: s.esn, ReplayWindow: 64})
	if err != nil {
		return nil, 0, 0, err
	}
	b := make([]byte, esp.Scratch+len(pkt))
	copy(b[esp.Scratch:], pkt)
	p, next, seq, err := in.Open(b, esp.Scratch, len(b))
	return append([]byte(nil), p...), next, seq, err
}

// TestCapture runs the two charons through each suite and decrypts
// their ESP with internal/esp.
func TestCapture(t *testing.T) {
	prerequisites(t)
	id := fmt.Sprintf("secgw-espcap%d", os.Getpid())
	nl, nr := id+"-l", id+"-r"
	hl, hr := netnstest.NewNamed(t, nl), netnstest.NewNamed(t, nr)
	netnstest.Veth(t, hl, hr, "veth-l", "veth-r", netip.PrefixFrom(left, 24), netip.PrefixFrom(right, 24))
	netnstest.LoAddr(t, netnstest.Handle(t, hl), netip.PrefixFrom(leftIn, 32))
	netnstest.LoAddr(t, netnstest.Handle(t, hr), netip.PrefixFrom(rightIn, 32))
	cl, cr := startCharon(t, nl), startCharon(t, nr)
	capt := newCapturer(t, nr, "veth-r")
	pl, pr := icmpFrom(t, nl, leftIn), icmpFrom(t, nr, rightIn)
	for _, s := range suites {
		t.Run(s.proposal, func(t *testing.T) {
			cl.Load(t, swanctlConf(left, right, leftIn, rightIn, s.proposal))
			cr.Load(t, swanctlConf(right, left, rightIn, leftIn, s.proposal))
			run(t, "swanctl", "--initiate", "--child", "net", "--timeout", "10", "--uri", cl.URI)
			defer run(t, "swanctl", "--terminate", "--ike", "c", "--timeout", "10", "--uri", cl.URI)
			spiIn, spiOut := childSPIs(t, cl) // the initiator's view
			// Echo requests both ways (each charon's kernel also answers,
			// but the requests alone cover both SAs).
			go sendEchos(pl, rightIn, 3)
			go sendEchos(pr, leftIn, 3)
			pkts := capt.espDatagrams(time.Second)
			keys := dumps(mustRead(t, cl.Log))
			v := Vector{
				Comment: "ESP in UDP captured on the wire between two strongSwan 5.9.8 charons (kernel-libipsec) pinging " +
					"192.168.11.1 -> 192.168.12.1, with the child keys charon logged at chd=4; generated by go test ./test/espcapture -update",
				Proposal: s.proposal, Encr: uint16(s.encr), Integ: uint16(s.integ), ESN: s.esn,
			}
			for _, p := range pkts {
				dir, role := "", ""
				switch esp.SPI(p) {
				case spiOut:
					dir, role = "initiator->responder", "initiator"
				case spiIn:
					dir, role = "responder->initiator", "responder"
				default:
					continue // an earlier suite's SA
				}
				ekey, ikey := keys["encryption "+role+" key"], keys["integrity "+role+" key"]
				inner, next, seq, err := open(s, esp.SPI(p), ekey, ikey, p)
				if err != nil {
					t.Fatalf("%s packet %x: %v (keys: %d/%d octets)", dir, p[:8], err, len(ekey), len(ikey))
				}
				want := [2]netip.Addr{leftIn, rightIn}
				if role == "responder" {
					want = [2]netip.Addr{rightIn, leftIn}
				}
				if next != esp.NextIPv4 || len(inner) < 28 || inner[9] != 1 ||
					netip.AddrFrom4([4]byte(inner[12:16])) != want[0] || netip.AddrFrom4([4]byte(inner[16:20])) != want[1] ||
					inner[20] != 8 && inner[20] != 0 {
					t.Fatalf("%s: inner packet %x (next header %d)", dir, inner, next)
				}
				ik := ""
				if ikey != nil {
					ik = hex.EncodeToString(ikey)
				}
				v.Packets = append(v.Packets, Packet{Direction: dir, SPI: fmt.Sprintf("%08x", esp.SPI(p)),
					EncrKey: hex.EncodeToString(ekey), IntegKey: ik, Seq: seq, ESP: hex.EncodeToString(p), Inner: hex.EncodeToString(inner)})
			}
			var fwd, back int
			for _, p := range v.Packets {
				if p.Direction == "initiator->responder" {
					fwd++
				} else {
					back++
				}
			}
			if fwd < 2 || back < 2 {
				t.Fatalf("captured %d packets initiator->responder and %d back, want at least 2 each way", fwd, back)
			}
			if golden.Update() {
				b, _ := json.MarshalIndent(v, "", "  ")
				if err := os.WriteFile(filepath.Join(testdata, s.file), append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func mustRead(t *testing.T, f string) string {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
