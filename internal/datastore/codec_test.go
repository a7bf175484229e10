package datastore

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
)

func TestCodecRoundTrip(t *testing.T) {
	open(t, t.TempDir())
	f, err := os.Open("../../test/testdata/vsr-config-lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := []string{"/ vrf main", "/ vrf trusted",
		"/ vrf main vrrp group g instance vrrp0 instance vrrp1 notify-ha-group hg",
		"/ vrf main ike ha listen-ha-group hg node-id 1 local-address 192.168.100.1 remote-address 192.168.100.2 secret 0123456789abcdef0123",
		"/ vrf main ike ha seqnum-sync oseq-shift 65536 sync-period-time 10s sync-period-packets 2",
		"/ vrf main ike global-options retransmit-timeout 2.5",
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	d := &generated.Device{}
	if err := set(lines...)(d); err != nil {
		t.Fatal(err)
	}
	blob := encodeConfig(tSchema, d)
	back, err := decodeConfig(tSchema, blob)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, back) {
		t.Fatalf("round trip differs:\n%s", Diff(tSchema, d, back))
	}
	for _, bad := range []string{
		`{"format":"secgw-config/9","data":{}}`,
		`{"format":"secgw-config/1","data":{"vrf":[{"name":"main","bogus":"1"}]}}`,
		`{"format":"secgw-config/1","data":{"vrf":[{"name":"main","ike":{"global-options":{"retransmit-tries":"many"}}}]}}`,
		`{"format":"secgw-config/1","data":{"vrf":[{"ike":{}}]}}`,
		`{"format":"secgw-config/1","data":{"vrf":[`,
	} {
		if _, err := decodeConfig(tSchema, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
