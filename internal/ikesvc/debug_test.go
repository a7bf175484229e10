package ikesvc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"secgw/internal/ike/engine/enginetest"
	"secgw/internal/rpcerr"
	"secgw/internal/xmlcodec"
)

// debugCall runs debug-ike as the NETCONF server does: input decoded
// and output encoded by the schema-driven codec.
func debugCall(t *testing.T, s *Service, input string) (string, error) {
	t.Helper()
	sch, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	rpc := sch.RPCs["debug-ike"]
	if rpc == nil {
		t.Fatal("no debug-ike RPC in the schema")
	}
	var in DebugInput
	if err := xmlcodec.DecodeInput(rpc, []byte(input), &in); err != nil {
		return "", err
	}
	out, err := s.DebugIKE(context.Background(), in)
	if err != nil {
		return "", err
	}
	b, err := xmlcodec.AppendOutput(nil, rpc, out)
	return string(b), err
}

// TestDebugIKERPC: debug-ike adds, lists and removes the engine's
// filters (the CLI's debug ike peer / show debug / no debug ike peer),
// and refuses malformed input with invalid-value: a peer that is not an
// address, a filter selecting nothing, removing a filter not set.
func TestDebugIKERPC(t *testing.T) {
	s := newServiceOn(t, Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace"})
	const ns = `xmlns="urn:secgw:yang:secgw-ike"`
	out, err := debugCall(t, s, `<debug-ike `+ns+`><peer>198.51.100.1</peer><with-keys>true</with-keys></debug-ike>`)
	if err != nil || !strings.Contains(out, ">peer 198.51.100.1 with-keys</filter>") {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, err := debugCall(t, s, `<debug-ike `+ns+`><vpn>v1</vpn></debug-ike>`); err != nil {
		t.Fatal(err)
	}
	out, err = debugCall(t, s, `<debug-ike `+ns+`><operation>list</operation></debug-ike>`)
	if err != nil || !strings.Contains(out, ">peer 198.51.100.1 with-keys</filter><filter") || !strings.Contains(out, ">vpn v1</filter>") || !strings.Contains(out, ">0</dropped>") {
		t.Fatalf("list: %v %s", err, out)
	}
	out, err = debugCall(t, s, `<debug-ike `+ns+`><operation>remove</operation><peer>198.51.100.1</peer></debug-ike>`)
	if err != nil || strings.Contains(out, "198.51.100.1") {
		t.Fatalf("remove: %v %s", err, out)
	}
	for _, bad := range []string{
		`<debug-ike ` + ns + `><peer>not-an-address</peer></debug-ike>`,
		`<debug-ike ` + ns + `><with-keys>true</with-keys></debug-ike>`,
		`<debug-ike ` + ns + `><operation>remove</operation><peer>192.0.2.9</peer></debug-ike>`,
		`<debug-ike ` + ns + `><operation>explode</operation></debug-ike>`,
	} {
		_, err := debugCall(t, s, bad)
		var re *rpcerr.Error
		if !errors.As(err, &re) || (re.Tag != rpcerr.TagInvalidValue && re.Tag != rpcerr.TagBadElement) {
			t.Errorf("%s: %v, want invalid-value or bad-element", bad, err)
		}
	}
}
