package ikesvc

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/ike/wire"
	"secgw/internal/poll"
	"secgw/internal/rpcerr"
)

// syncLog collects log lines for assertions and passes them to the test log.
type syncLog struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeTCPPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort().Port()
}

// tcpService is a service of the userspace kind (ESP over the streams)
// on its own UDP ports.
func tcpService(t *testing.T, udpPort uint16, tcpStreams bool) (*Service, *enginetest.Dataplane, *syncLog) {
	dp := enginetest.NewDataplane()
	lg := &syncLog{t: t}
	s := New(Options{Dataplane: dp, DataplaneKind: "userspace", PortIKE: udpPort, PortNATT: udpPort + 1, TCPStreams: tcpStreams,
		Logger: slog.New(slog.NewTextHandler(lg, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	t.Cleanup(func() { s.Close() })
	return s, dp, lg
}

func withTCP(d *generated.Device, transport generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport, listen bool, port uint16) *generated.Device {
	ike := d.Vrf["main"].Ike
	for _, v := range ike.Vpn {
		v.IkePolicy.Transport = transport
	}
	ike.GlobalOptions = &generated.SecgwVrf_Vrf_Ike_GlobalOptions{ListenTcp: ptr2(listen), TcpPort: ptr2(port),
		RetransmitTries: ptr2(uint8(1)), RetransmitTimeout: ptr2(0.3)}
	return d
}

func established(s *Service) bool {
	for _, sa := range s.eng.IKESAs() {
		if sa.State == "established" && sa.Children == 1 {
			return true
		}
	}
	return false
}

// TestTCPServices: A's UDP ports are not B's, so that only TCP joins them.
// With transport tcp, A connects to B's listen-tcp port and the IKE and
// child SAs come up; deleting the IKE SA closes the stream. With
// udp-then-tcp, A tries UDP first, and after its retransmissions falls
// back to TCP.
func TestTCPServices(t *testing.T) {
	for _, tr := range []generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport{
		generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_tcp,
		generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp,
	} {
		t.Run(tr.String(), func(t *testing.T) {
			port := freeTCPPort(t)
			a, dpA, logA := tcpService(t, 15700, true)
			b, _, logB := tcpService(t, 15710, true)
			if err := b.Start(withTCP(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"), 0, true, port)); err != nil {
				t.Fatal(err)
			}
			if err := a.Start(withTCP(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"), tr, false, port)); err != nil {
				t.Fatal(err)
			}
			if err := a.eng.Initiate("to-b"); err != nil {
				t.Fatal(err)
			}
			if !poll.Until(10*time.Second, func() bool { return established(a) && established(b) }) {
				t.Fatalf("not established over TCP: A %v, B %v", a.eng.IKESAs(), b.eng.IKESAs())
			}
			if !strings.Contains(logB.String(), "TCP stream accepted") {
				t.Fatal("B accepted no stream")
			}
			if tr == generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp && !strings.Contains(logA.String(), "IKE_SA_INIT over UDP unanswered: trying TCP") {
				t.Fatal("A did not say it fell back to TCP")
			}
			if len(dpA.Children()) != 1 {
				t.Fatalf("A installed %d child SAs", len(dpA.Children()))
			}
			// The dataplane's ESP of these addresses goes over the stream.
			if sent, err := a.SendESPStream(netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), make([]byte, 40)); !sent || err != nil {
				t.Fatalf("ESP over the stream: sent %v, %v", sent, err)
			}
			if sent, _ := a.SendESPStream(netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.3"), make([]byte, 40)); sent {
				t.Fatal("ESP to another peer went to a stream")
			}
			for uid := range a.eng.IKESAs() {
				a.eng.DeleteIKE(uid)
			}
			if !poll.Until(5*time.Second, func() bool {
				return strings.Contains(logA.String(), "TCP stream closed: no IKE SA uses it") &&
					strings.Contains(logB.String(), "TCP stream closed")
			}) {
				t.Fatal("the stream outlived its IKE SA")
			}
		})
	}
}

// TestTCPRefusedWithoutStreams: a dataplane that cannot carry ESP over
// TCP (the kernel's without espintcp) refuses listen-tcp and transport
// tcp at commit with operation-not-supported.
func TestTCPRefusedWithoutStreams(t *testing.T) {
	s, _, _ := tcpService(t, 15720, false)
	for _, d := range []*generated.Device{
		withTCP(device("v", "127.0.0.1", "127.0.0.2", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), 0, true, 4500),
		withTCP(device("v", "127.0.0.1", "127.0.0.2", "a", "b", "10.1.0.0/16", "10.2.0.0/16"), generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp, false, 4500),
	} {
		err := s.Prepare(&datastore.Tx{ID: 1, New: d, Old: &generated.Device{}})
		var re *rpcerr.Error
		if !errors.As(err, &re) || re.Tag != rpcerr.TagOperationNotSupported || !strings.Contains(err.Error(), "userspace dataplane") {
			t.Fatalf("commit: %v, want operation-not-supported", err)
		}
	}
	if err := s.Prepare(&datastore.Tx{ID: 2, New: withTCP(device("v", "127.0.0.1", "127.0.0.2", "a", "b", "10.1.0.0/16", "10.2.0.0/16"),
		generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp, false, 4500), Old: &generated.Device{}}); err != nil {
		t.Fatalf("transport udp refused: %v", err)
	}
	s.Abort(&datastore.Tx{ID: 2})
}

// The I flag read by sendStream is the codec's.
func TestIKEFlagOffsets(t *testing.T) {
	h := wire.Header{SPIi: 1, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator}
	raw, err := (&wire.Message{Header: h}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < ikeHeaderLen || wire.HeaderLen != ikeHeaderLen || raw[ikeFlagsOffset]&ikeFlagInitiator == 0 {
		t.Fatalf("header % x: the I flag is not at offset %d", raw, ikeFlagsOffset)
	}
}
