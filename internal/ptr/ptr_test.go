package ptr

import "testing"

// TestVal: a nil pointer reads as the zero value, another as its target.
func TestVal(t *testing.T) {
	n, s := uint64(7), "x"
	if Val(&n) != 7 || Val[uint64](nil) != 0 || Val(&s) != "x" || Val[string](nil) != "" || *To(n) != 7 {
		t.Errorf("Val: %d %d %q %q", Val(&n), Val[uint64](nil), Val(&s), Val[string](nil))
	}
}
