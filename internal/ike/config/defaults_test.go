package config

import (
	"strconv"
	"testing"
	"time"

	"secgw/internal/schema"
)

// TestDefaultsMatchSchema keeps the constants of defaults.go equal to the
// defaults the YANG models state (internal/schema applies the refines that
// ygot's getters ignore), so that the two cannot drift apart.
func TestDefaultsMatchSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	def := func(path ...string) string {
		e := s.Find(path...)
		if e == nil {
			t.Fatalf("no node %v", path)
		}
		d, _ := e.SingleDefaultValue()
		return d
	}
	secs := func(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }
	for _, c := range []struct{ got, want string }{
		{secs(DefaultIKERekeyTime), def("vrf", "ike", "ike-policy-template", "rekey-time")},
		{secs(DefaultChildRekeyTime), def("vrf", "ike", "ipsec-policy-template", "rekey-time")},
		{strconv.Itoa(DefaultReplayWindow), def("vrf", "ike", "ipsec-policy-template", "replay-window")},
		{strconv.FormatBool(DefaultFragmentation), def("vrf", "ike", "ike-policy-template", "fragmentation")},
		{strconv.Itoa(DefaultRetransmitTries), def("vrf", "ike", "global-options", "retransmit-tries")},
		{strconv.FormatFloat(DefaultRetransmitTimeout.Seconds(), 'f', 1, 64), def("vrf", "ike", "global-options", "retransmit-timeout")},
		{strconv.FormatFloat(DefaultRetransmitBase, 'f', -1, 64), def("vrf", "ike", "global-options", "retransmit-base")},
		{strconv.Itoa(DefaultCookieThreshold), def("vrf", "ike", "global-options", "dos-protection", "cookie-threshold")},
		{strconv.Itoa(DefaultBlockThreshold), def("vrf", "ike", "global-options", "dos-protection", "block-threshold")},
		{strconv.Itoa(DefaultThreads), def("vrf", "ike", "global-options", "threads")},
		{strconv.Itoa(DefaultSATableSize), def("vrf", "ike", "global-options", "sa-table-size")},
		{strconv.Itoa(DefaultSATableSegments), def("vrf", "ike", "global-options", "sa-table-segments")},
		{strconv.Itoa(DefaultWindowSize), def("vrf", "ike", "global-options", "window-size")},
	} {
		if c.got != c.want {
			t.Errorf("constant %s, schema default %s", c.got, c.want)
		}
	}
}

// TestActionDefaultsMatchSchema does the same for the enumerations and the
// acquire timeout.
func TestActionDefaultsMatchSchema(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	def := func(path ...string) string {
		e := s.Find(path...)
		if e == nil {
			t.Fatalf("no node %v", path)
		}
		d, _ := e.SingleDefaultValue()
		return d
	}
	for _, c := range []struct{ got, want string }{
		{DefaultStartAction.String(), def("vrf", "ike", "ipsec-policy-template", "start-action")},
		{DefaultCloseAction.String(), def("vrf", "ike", "ipsec-policy-template", "close-action")},
		{"restart", def("vrf", "ike", "ipsec-policy-template", "dpd-action")},
		{DPDProbeIdle.String(), def("vrf", "ike", "ike-policy-template", "dpd-mode")},
		{UniqueNo.String(), def("vrf", "ike", "ike-policy-template", "unique-sa")},
		{strconv.Itoa(int(DefaultAcquireTimeout / time.Second)), def("vrf", "ike", "global-options", "acquire-timeout")},
		{"false", def("vrf", "ike", "global-options", "make-before-break")},
		{strconv.Itoa(DefaultInitiateRate), def("vrf", "ike", "global-options", "initiate-rate")},
	} {
		if c.got != c.want {
			t.Errorf("constant %s, schema default %s", c.got, c.want)
		}
	}
	if DefaultDPDAction != ActionStart {
		t.Error("dpd-action restart must resolve to ActionStart")
	}
}
