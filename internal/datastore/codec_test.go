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

// TestDecodeForms checks the decoder on what encodeConfig does not write
// but a JSON file may hold: white space, a list entry whose key is not
// its first member, escapes in strings, members the file form does not
// know (skipped) around the data.
func TestDecodeForms(t *testing.T) {
	open(t, t.TempDir())
	in := `{ "extra": [1, true, null, {"a": -2.5e3}], "data": {"vrf": [ {"ike": {"vpn": [
		{"remote-id": "a\"b\\c\u00e9", "name": "v1"} ]}, "name" : "main"} ]},
		"format": "secgw-config/1", "commit": 12 }
	`
	d, id, err := decodeConfig(tSchema, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if id != 12 {
		t.Errorf("commit id %d, want 12", id)
	}
	if got := d.Vrf["main"].Ike.Vpn["v1"].GetRemoteId(); got != "a\"b\\cé" {
		t.Errorf("remote-id %q", got)
	}
	back, _, err := decodeConfig(tSchema, encodeConfig(tSchema, d, 12))
	if err != nil || !reflect.DeepEqual(d, back) {
		t.Errorf("round trip: %v", err)
	}
}

// TestDecodeTruncated checks that no strict prefix of a stored
// configuration decodes: a file cut short by a crash is never half-loaded.
func TestDecodeTruncated(t *testing.T) {
	open(t, t.TempDir())
	d := big(t, 3)
	blob := encodeConfig(tSchema, d, 1)
	blob = blob[:len(blob)-1] // the final newline is white space
	for n := range len(blob) {
		if _, _, err := decodeConfig(tSchema, blob[:n]); err == nil {
			t.Fatalf("the prefix of %d bytes decodes: %s", n, blob[:n])
		}
	}
}

// FuzzDecodeConfig checks that the decoder never panics, that what it
// accepts encodes to a form it decodes to the same tree, and that
// running's decoding, which shares equal containers (share.go), gives the
// same tree as the plain one.
func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(`{"format":"secgw-config/1","commit":3,"data":{"vrf":[{"name":"main","ike":{"vpn":[{"name":"a","remote-address":"192.0.2.1"}]}}]}}`))
	f.Add([]byte(`{"format":"secgw-config/1","data":{"vrf":[{"ike":{"vpn":[{"remote-id":"x\u0041","name":"b"}]},"name":"main"}]}}`))
	f.Add([]byte(`{"format":"secgw-config/1","data":{},"confirm":{"undo":[]}}`))
	f.Add([]byte(`{"format":"secgw-config/1","data":{"vrf":[{"name":"main","ike":{"vpn":[{"name":"a","ike-policy":{"template":"t"}},` +
		`{"name":"b","ike-policy":{"template":"t"},"ike-policy":{"rekey-time":"60"}},{"name":"c","ike-policy":{"rekey-time":"60"}}]}}]}}`))
	open(f, f.TempDir())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, id, err := decodeConfig(tSchema, b)
		if err != nil {
			return
		}
		back, id2, err := decodeConfig(tSchema, encodeConfig(tSchema, d, id))
		if err != nil || id2 != id || len(Diff(tSchema, d, back)) != 0 {
			t.Fatalf("re-encoding %s: %v, %v", b, err, Diff(tSchema, d, back))
		}
		shared, _, _, err := decodeSnapshot(tSchema, b, true)
		if err != nil || len(Diff(tSchema, d, shared)) != 0 {
			t.Fatalf("decoding %s with sharing: %v, %v", b, err, Diff(tSchema, d, shared))
		}
	})
}
