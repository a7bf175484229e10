package esp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"secgw/internal/ipsec"
	"strconv"
	"testing"
)

// capture is the JSON written by test/espcapture: ESP-in-UDP payloads
// sent by strongSwan 5.9.8 (kernel-libipsec) with the child keys charon
// logged.
type capture struct {
	Proposal string `json:"charon_esp_proposal"`
	Encr     uint16 `json:"encr"`
	Integ    uint16 `json:"integ"`
	ESN      bool   `json:"esn"`
	Packets  []struct {
		Direction string `json:"direction"`
		SPI       string `json:"spi"`
		EncrKey   string `json:"encr_key"`
		IntegKey  string `json:"integ_key"`
		Seq       uint64 `json:"seq"`
		ESP       string `json:"esp"`
		Inner     string `json:"inner"`
	} `json:"packets"`
}

// TestStrongSwanCaptures opens every packet charon sent in each captured
// suite, in order through one window per SA, and checks the inner packet;
// then replays the first packet of each SA, which the window refuses.
func TestStrongSwanCaptures(t *testing.T) {
	files, _ := filepath.Glob("testdata/strongswan-*.json")
	if len(files) < 7 {
		t.Fatalf("%d capture files in testdata, want 7 (go test ./test/espcapture -update writes them)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c capture
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			ins := map[string]*Inbound{}
			first := map[string][]byte{}
			for i, p := range c.Packets {
				spi, _ := strconv.ParseUint(p.SPI, 16, 32)
				in := ins[p.SPI]
				if in == nil {
					ek, _ := hex.DecodeString(p.EncrKey)
					ik, _ := hex.DecodeString(p.IntegKey)
					in, err = NewInbound(Config{SPI: uint32(spi), Encr: ipsec.TransformID(c.Encr), EncrKey: ek,
						Integ: ipsec.TransformID(c.Integ), IntegKey: ik, ESN: c.ESN, ReplayWindow: 64})
					if err != nil {
						t.Fatal(err)
					}
					ins[p.SPI] = in
				}
				pkt, _ := hex.DecodeString(p.ESP)
				if first[p.SPI] == nil {
					first[p.SPI] = pkt
				}
				payload, next, seq, err := open(in, pkt)
				want, _ := hex.DecodeString(p.Inner)
				if err != nil || next != NextIPv4 || seq != p.Seq || !bytes.Equal(payload, want) {
					t.Fatalf("packet %d (%s): next %d seq %d err %v\n got %x\nwant %x", i, p.Direction, next, seq, err, payload, want)
				}
			}
			if len(ins) != 2 {
				t.Errorf("%d SAs in the capture, want both directions", len(ins))
			}
			for spi, pkt := range first {
				if _, _, _, err := open(ins[spi], pkt); err != ErrReplay {
					t.Errorf("SA %s: replayed first packet: %v", spi, err)
				}
			}
		})
	}
}
