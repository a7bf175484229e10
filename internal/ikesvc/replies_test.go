package ikesvc

import (
	"encoding/xml"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/engine/enginetest"
)

// The guide's outputs (6wind-vsr-ike-advanced-config.txt, "Manually
// initiating SA negotiations" and "Manually clearing SAs"), verbatim but
// for the vendor ID and certificate request lines of charon, which secgw
// does not send.
const (
	guideInitiateChild = `initiating IKE_SA vpn-hq[3] to 198.51.100.1
authentication of 'localgw.6wind.net' (myself) with pre-shared key
establishing CHILD_SA trunk{3}
authentication of 'remotegw.6wind.net' with pre-shared key successful
IKE_SA vpn-hq[3] established between 192.0.2.1[localgw.6wind.net]...198.51.100.1[remotegw.6wind.net]
scheduling rekeying in 13328s
maximum IKE_SA lifetime 14768s
CHILD_SA trunk{3} established with SPIs c8f78eab_i c691944f_o and TS 192.168.0.0/24 === 192.168.99.0/24`
	guideInitiateIKE = `initiating IKE_SA vpn-hq[2] to 198.51.100.1
authentication of 'localgw.6wind.net' (myself) with pre-shared key
authentication of 'remotegw.6wind.net' with pre-shared key successful
IKE_SA vpn-hq[2] established between 192.0.2.1[localgw.6wind.net]...198.51.100.1[remotegw.6wind.net]
scheduling rekeying in 13165s
maximum IKE_SA lifetime 14605s`
	guideFlushChild = `closing CHILD_SA trunk{5} with SPIs cbeece64_i (0 bytes) ce0b1baf_o (0 bytes) and TS 192.168.0.0/24 === 192.168.99.0/24`
	guideFlushIKE   = `deleting IKE_SA vpn-hq[5] between 192.0.2.1[localgw.6wind.net]...198.51.100.1[remotegw.6wind.net]`
)

// guideNames turns the guide's names and addresses into the test's.
var guideNames = strings.NewReplacer("vpn-hq", "to-b", "trunk", "net", "192.0.2.1", "127.0.0.1", "198.51.100.1", "127.0.0.2",
	"localgw.6wind.net", "a.example", "remotegw.6wind.net", "b.example",
	"192.168.0.0/24", "10.1.0.0/16", "192.168.99.0/24", "10.2.0.0/16")

// What differs from one run to the next: SPIs, unique-ids, lifetimes and
// byte counts.
var (
	varSPI   = regexp.MustCompile(`\b[0-9a-f]{8}_([io])\b`)
	varUID   = regexp.MustCompile(`([\[{])\d+([\]}])`)
	varSecs  = regexp.MustCompile(`\b\d+s\b`)
	varBytes = regexp.MustCompile(`\(\d+ bytes\)`)
)

func normalize(s string) string {
	s = varSPI.ReplaceAllString(s, "SPI_$1")
	s = varUID.ReplaceAllString(s, "${1}N$2")
	s = varSecs.ReplaceAllString(s, "Ns")
	return varBytes.ReplaceAllString(s, "(N bytes)")
}

// messages returns the message lines of an RPC reply.
func messages(t *testing.T, s *Service, rpc, body string) []string {
	t.Helper()
	out := call(t, s, rpc, body)
	var r struct {
		Messages []string `xml:"message"`
	}
	if err := xml.Unmarshal([]byte("<r>"+out+"</r>"), &r); err != nil {
		t.Fatal(err)
	}
	return r.Messages
}

// sameAsGuide compares reply lines with the guide's output, names
// translated and varying numbers masked.
func sameAsGuide(t *testing.T, cmd string, got []string, guide string) {
	t.Helper()
	want := normalize(guideNames.Replace(guide))
	if g := normalize(strings.Join(got, "\n")); g != want {
		t.Errorf("%s replied:\n%s\nthe guide (normalized):\n%s", cmd, strings.Join(got, "\n"), want)
	}
}

// TestRepliesFollowGuide: the initiate and flush replies carry the
// guide's lines, SPIs, bytes, selectors and endpoints included; the reqid
// of a child SA is the dataplane's, kept by a rekey that changes its
// unique-id; a flushed IKE SA is gone from the state at once.
func TestRepliesFollowGuide(t *testing.T) {
	dpA := enginetest.NewDataplane()
	a := New(Options{Dataplane: dpA, DataplaneKind: "userspace", PortIKE: 16100, PortNATT: 16101,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Counters: func(c engine.ChildSA) (in, out Counters) {
			return Counters{Bytes: 1234, Packets: 3}, Counters{Bytes: 5678, Packets: 4}
		}})
	t.Cleanup(func() { a.Close() })
	b, _ := newService(t, 16100)
	if err := b.Start(device("from-a", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16")); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(device("to-b", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}

	got := messages(t, a, "initiate", `<child-sa><security-policy>net</security-policy></child-sa>`)
	sameAsGuide(t, "initiate child-sa", got, guideInitiateChild)

	// reqid: the dataplane's, not the unique-id, and kept by a rekey.
	ike, child, _, _ := onlyChild(a)
	reqid := func() uint32 {
		for _, c := range a.State(false).IkeSa[ike].ChildSa {
			if c.Reqid == nil {
				t.Fatal("child SA without reqid")
			}
			return *c.Reqid
		}
		return 0
	}
	if r := reqid(); r != 1 || r == child {
		t.Fatalf("child SA #%d has reqid %d, want the dataplane's 1", child, r)
	}
	call(t, a, "rekey", `<child-sa><security-policy>net</security-policy></child-sa>`)
	waitFor(t, func() bool { _, c, _, ok := onlyChild(a); return ok && c != child })
	if r := reqid(); r != 1 {
		t.Fatalf("after a rekey the child SA has reqid %d, want 1 still", r)
	}

	got = messages(t, a, "flush", `<child-sa><security-policy>net</security-policy></child-sa>`)
	sameAsGuide(t, "flush child-sa", got, guideFlushChild)
	if len(got) != 1 || !strings.Contains(got[0], "_i (1234 bytes)") || !strings.Contains(got[0], "_o (5678 bytes)") {
		t.Errorf("flush child-sa does not report the bytes of each direction: %q", got)
	}
	waitFor(t, func() bool { st := a.State(false); return len(st.IkeSa) == 1 && len(st.IkeSa[ike].ChildSa) == 0 })

	got = messages(t, a, "flush", `<ike-sa><vpn>to-b</vpn></ike-sa>`)
	sameAsGuide(t, "flush ike-sa", got, guideFlushIKE)
	if n := len(a.State(false).IkeSa); n != 0 {
		t.Fatalf("%d IKE SAs right after the flush", n)
	}

	got = messages(t, a, "initiate", `<ike-sa><vpn>to-b</vpn></ike-sa>`)
	sameAsGuide(t, "initiate ike-sa", got, guideInitiateIKE)

	if got := messages(t, a, "flush", `<ike-sa><vpn>nope</vpn></ike-sa>`); len(got) != 1 || got[0] != "no matching SAs to flush found" {
		t.Errorf("flush of nothing: %q", got)
	}
}
