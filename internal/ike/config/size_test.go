package config

import (
	"testing"
	"unsafe"
)

// TestVPNSize: a VPN stays within the 416-byte allocation class (one is
// kept per configured VPN): a field added where padding grows it shows
// here.
func TestVPNSize(t *testing.T) {
	if n := unsafe.Sizeof(VPN{}); n > 416 {
		t.Errorf("VPN is %d bytes, want at most 416", n)
	}
}
