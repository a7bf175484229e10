package daemon

import (
	"testing"

	"secgw/generated"
	"secgw/internal/logging"
)

// TestLogConfig reads the logging container, with its defaults.
func TestLogConfig(t *testing.T) {
	if c := logConfig(nil); c.Daemon.Default != logging.Level0 || c.Authpriv.Default != logging.Disabled {
		t.Errorf("defaults %+v", c)
	}
	l := &generated.SecgwVrf_Vrf_Ike_Logging{
		Daemon:   &generated.SecgwVrf_Vrf_Ike_Logging_Daemon{Default: generated.UnionUint8(1), Ike: generated.UnionUint8(4)},
		Authpriv: &generated.SecgwVrf_Vrf_Ike_Logging_Authpriv{Child: generated.UnionUint8(2)},
	}
	c := logConfig(l)
	if c.Daemon.Default != logging.Level1 || c.Daemon.Subsystems["ike"] != logging.Level4 || c.Authpriv.Default != logging.Disabled || c.Authpriv.Subsystems["child"] != logging.Level2 {
		t.Errorf("got %+v", c)
	}
}
