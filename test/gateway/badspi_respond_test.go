package gateway

import (
	"encoding/binary"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"secgw/internal/netnsutil"
)

// TestRespondBadSPIToCharon: with respond-bad-spi max-responses 2 and an
// IKE SA up with charon, ESP in UDP from charon's address with an SPI
// secgwd does not know is answered with INVALID_SPI in an INFORMATIONAL
// exchange of that IKE SA: charon answers it (the exchange completes,
// the IKE SA stays), at most 2 a minute (the other reports counted as
// limited), and the tunnel still carries traffic. charon itself takes
// no action on INVALID_SPI (its INFORMATIONAL responder has no case for
// it: strongSwan's task_manager_v2.c process_request), so the
// resynchronisation the notification allows is not observable with it.
func TestRespondBadSPIToCharon(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	st.gw.configure(t, "global-options respond-bad-spi max-responses 2")
	st.gwInitiate(t, policy4)
	st.checkAgree(t, policy4.name)
	const sent = 5
	err := netnsutil.RunNamed(st.top.charon, func() error {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: charonOuter.AsSlice(), Port: 4600}, &net.UDPAddr{IP: gwOuter.AsSlice(), Port: 4500})
		if err != nil {
			return err
		}
		defer c.Close()
		pkt := make([]byte, 64)
		binary.BigEndian.PutUint32(pkt, 0x0badc0de) // an SPI secgwd never chose
		for i := range sent {
			binary.BigEndian.PutUint32(pkt[4:], uint32(i+1))
			if _, err := c.Write(pkt); err != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stats := `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><ike xmlns="` + nsIKE + `"><statistics/></ike></vrf></filter></get>`
	counter := func(data, name string) int {
		m := regexp.MustCompile(`<` + name + `>(\d+)</` + name + `>`).FindStringSubmatch(data)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	var data string
	if !eventually(10*time.Second, func() bool {
		data = st.gw.rpc(t, stats)
		return counter(data, "unknown-spi-reported") == sent
	}) {
		t.Fatalf("gateway: unknown-spi-reported is not %d:\n%s", sent, data)
	}
	if s, l := counter(data, "invalid-spi-sent"), counter(data, "invalid-spi-limited"); s != 2 || l != sent-2 {
		t.Errorf("gateway: invalid-spi-sent %d, invalid-spi-limited %d; want 2 and %d", s, l, sent-2)
	}
	// charon answered both INFORMATIONAL requests: nothing outstanding
	// is retransmitted once the first retransmission would be due
	// (retransmit-timeout, 4 s), the IKE SA is still the one it was.
	time.Sleep(5 * time.Second)
	if data = st.gw.rpc(t, stats); counter(data, "retransmissions") != 0 {
		t.Errorf("gateway: secgwd retransmitted (charon did not answer the INVALID_SPI):\n%s", data)
	}
	if log := st.gw.readLog(); !strings.Contains(log, `msg="ESP with unknown SPI: sending INVALID_SPI"`) || !strings.Contains(log, "spi=0badc0de") {
		t.Errorf("gateway: no log of the INVALID_SPI sent:\n%s", log)
	}
	st.checkAgree(t, policy4.name)
	ping(t, st.top.gw, gwInner4, charonIn4)
}
