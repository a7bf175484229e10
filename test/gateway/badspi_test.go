package gateway

import (
	"encoding/binary"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"secgw/internal/netnsutil"
)

// TestUnknownSPICounted: ESP in UDP with an SPI no SA has, sent to
// secgwd's port 4500 from the peer's namespace, is dropped and counted:
// <get> shows it in the IKE statistics (esp-unknown-spi).
func TestUnknownSPICounted(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	const sent = 5
	err := netnsutil.RunNamed(st.top.charon, func() error {
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: charonOuter.AsSlice()}, &net.UDPAddr{IP: gwOuter.AsSlice(), Port: 4500})
		if err != nil {
			return err
		}
		defer c.Close()
		pkt := make([]byte, 64)
		binary.BigEndian.PutUint32(pkt, 0x0badc0de) // SPI (never ours: no SA yet)
		for i := range sent {
			binary.BigEndian.PutUint32(pkt[4:], uint32(i+1)) // sequence number
			if _, err := c.Write(pkt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`<esp-unknown-spi>(\d+)</esp-unknown-spi>`)
	var got int
	if !eventually(5*time.Second, func() bool {
		m := re.FindStringSubmatch(st.gw.rpc(t, `<get><filter type="subtree"><vrf xmlns="`+nsVRF+`"><ike xmlns="`+nsIKE+`"><statistics/></ike></vrf></filter></get>`))
		if m != nil {
			got, _ = strconv.Atoi(m[1])
		}
		return got >= sent
	}) {
		t.Fatalf("esp-unknown-spi = %d after %d packets with an unknown SPI", got, sent)
	}
}
