package ikesvc

import (
	"errors"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
)

// TestRespondBadSPIKernelRefused: respond-bad-spi needs unknown-SPI
// reports; with the kernel dataplane, which drops such ESP and only
// counts it, the commit is refused with operation-not-supported rather
// than accepted and never acted on, unless the daemon samples it
// (KernelBadSPI). The userspace dataplane takes it.
func TestRespondBadSPIKernelRefused(t *testing.T) {
	dev := func() *generated.Device {
		d := device("v", "127.0.0.1", "", "a", "b", "10.1.0.0/16", "10.2.0.0/16")
		d.Vrf["main"].Ike.GetOrCreateGlobalOptions().GetOrCreateRespondBadSpi()
		return d
	}
	s := newServiceOn(t, Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "kernel"})
	err := s.Prepare(&datastore.Tx{ID: 1, Old: &generated.Device{}, New: dev()})
	var et datastore.ErrorTagger
	if !errors.As(err, &et) || et.ErrorTag() != "operation-not-supported" || !strings.Contains(err.Error(), "respond-bad-spi needs the userspace dataplane, or the kernel one") {
		t.Fatalf("Prepare: %v, want operation-not-supported", err)
	}
	s = newServiceOn(t, Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "userspace"})
	tx := &datastore.Tx{ID: 1, Old: &generated.Device{}, New: dev()}
	if err := s.Prepare(tx); err != nil {
		t.Fatalf("userspace dataplane refused respond-bad-spi: %v", err)
	}
	s.Abort(tx)
	s = newServiceOn(t, Options{Dataplane: enginetest.NewDataplane(), DataplaneKind: "kernel", KernelBadSPI: true})
	tx = &datastore.Tx{ID: 1, Old: &generated.Device{}, New: dev()}
	if err := s.Prepare(tx); err != nil {
		t.Fatalf("kernel dataplane with sampling refused respond-bad-spi: %v", err)
	}
	s.Abort(tx)
}
