package esp

import (
	"testing"
	"unsafe"
)

// TestSuiteSize: each SA holds a suite (two a child SA, 200k at 100k
// child SAs): it stays within the 160-octet size class (it was 184, in
// the 192-octet class, with the lengths as ints).
func TestSuiteSize(t *testing.T) {
	if n := unsafe.Sizeof(suite{}); n > 160 {
		t.Errorf("a suite is %d octets, want at most 160", n)
	}
}
