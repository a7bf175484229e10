package datastore

import (
	"reflect"
	"testing"

	"secgw/generated"
	"secgw/internal/configtest"
)

func TestCodecRoundTrip(t *testing.T) {
	open(t, t.TempDir())
	lines := append(append([]string{}, configtest.ReferencePreconditions...),
		"/ vrf main vrrp group g instance vrrp0 instance vrrp1 notify-ha-group hg",
		"/ vrf main ike ha listen-ha-group hg node-id 1 local-address 192.168.100.1 remote-address 192.168.100.2 secret 0123456789abcdef0123",
		"/ vrf main ike ha seqnum-sync oseq-shift 65536 sync-period-time 10s sync-period-packets 2",
		"/ vrf main ike global-options retransmit-timeout 2.5",
	)
	lines = append(lines, configtest.Lines(t, "vsr-config-lines.txt")...)
	d := &generated.Device{}
	if err := setTree(d, lines...); err != nil {
		t.Fatal(err)
	}
	blob := encodeConfig(tSchema, d, 7)
	back, id, err := decodeConfig(tSchema, blob)
	if err != nil {
		t.Fatal(err)
	}
	if id != 7 {
		t.Errorf("commit id %d, want 7", id)
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
		if _, _, err := decodeConfig(tSchema, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
