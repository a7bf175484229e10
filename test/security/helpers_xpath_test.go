package security

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"

	"secgw/internal/ncclient"
	"secgw/test/secgwdtest"
)

// NsHA is the namespace of secgw-ha (VRRP groups, IKE HA).
const nsHA = "urn:secgw:yang:secgw-ha"

// editCandidate runs edit-config of config (a <config> element) into the
// candidate.
func editCandidate(s *ncclient.Session, config string) (string, error) {
	return secgwdtest.RPC(s, `<edit-config><target><candidate/></target>`+config+`</edit-config>`)
}

// getConfigXPath runs get-config of ds with an xpath filter; op "get"
// runs <get> (running and state) instead.
func getXPath(s *ncclient.Session, op, ds, sel string) (string, error) {
	if op == "get" {
		return secgwdtest.RPC(s, `<get><filter type="xpath" select="`+sel+`"/></get>`)
	}
	return secgwdtest.RPC(s, `<get-config><source><`+ds+`/></source><filter type="xpath" select="`+sel+`"/></get-config>`)
}

// rpcError returns the rpc-error of err, or nil.
func rpcError(err error) *gonetconf.RPCError {
	var re *gonetconf.RPCError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

// loadVPNs commits n VPNs named vpn00000... with security policies
// sp00000..., in edit-config batches of 1000.
func loadVPNs(t *testing.T, admin *ncclient.Session, n int) {
	t.Helper()
	start := time.Now()
	for lo := 0; lo < n; lo += 1000 {
		var b strings.Builder
		for i := lo; i < min(lo+1000, n); i++ {
			b.WriteString(secgwdtest.VPNElem(fmt.Sprintf("psk-%05d-0123456789", i), fmt.Sprintf("vpn%05d", i), fmt.Sprintf("sp%05d", i),
				"192.0.2.1", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "gw.example.com",
				fmt.Sprintf("peer%05d.example.com", i), "172.16.0.0/24", fmt.Sprintf("100.%d.%d.0/24", i>>8&255, i&255)))
		}
		if _, err := editCandidate(admin, secgwdtest.IKEConfig(b.String())); err != nil {
			t.Fatalf("loading VPNs %d..: %v", lo, err)
		}
	}
	secgwdtest.MustRPC(t, admin, `<commit/>`)
	t.Logf("loaded and committed %d VPNs in %v", n, time.Since(start).Round(time.Millisecond))
}

// rawOp is an operation as go-netconf sends it.
func rawOp(op string) gonetconf.RawMethod { return gonetconf.RawMethod(op) }
