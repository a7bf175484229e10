package config

import (
	"testing"
	"unsafe"
)

// TestVPNSize: a VPN stays within the 384-byte allocation class (one is
// kept per configured VPN; the next class is 416): a field added where
// padding grows it shows here.
func TestVPNSize(t *testing.T) {
	if n := unsafe.Sizeof(VPN{}); n > 384 {
		t.Errorf("VPN is %d bytes, want at most 384", n)
	}
}
