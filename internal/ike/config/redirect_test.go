package config

import (
	"net/netip"
	"testing"
	"time"

	"secgw/internal/ike/wire"
)

func TestRedirectInit(t *testing.T) {
	to := wire.Gateway{Addr: netip.MustParseAddr("192.0.2.9")}
	for _, tc := range []struct {
		name                string
		r                   Redirect
		half, active        int
		redirected, wantRed bool
	}{
		{"no gateway", Redirect{Always: true}, 9, 9, false, false},
		{"always", Redirect{To: to, Always: true}, 0, 0, false, true},
		{"always, even redirected", Redirect{To: to, Always: true}, 0, 0, true, true},
		{"below thresholds", Redirect{To: to, HalfOpenThreshold: 3, ActiveThreshold: 10}, 2, 9, false, false},
		{"half-open reached", Redirect{To: to, HalfOpenThreshold: 3}, 3, 0, false, true},
		{"active reached", Redirect{To: to, ActiveThreshold: 10}, 0, 10, false, true},
		{"load, but redirected already", Redirect{To: to, HalfOpenThreshold: 3}, 5, 0, true, false},
		{"no threshold", Redirect{To: to}, 100, 100, false, false},
	} {
		if got := tc.r.Init(tc.half, tc.active, tc.redirected); got != tc.wantRed {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	if n, p := (Redirect{}).Limits(); n != 5 || p != 300*time.Second {
		t.Errorf("defaults %d %v", n, p)
	}
	if n, p := (Redirect{MaxRedirects: 2, LoopPeriod: time.Minute}).Limits(); n != 2 || p != time.Minute {
		t.Errorf("limits %d %v", n, p)
	}
}
