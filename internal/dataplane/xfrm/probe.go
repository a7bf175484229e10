package xfrm

import (
	"context"
	"fmt"
	"net/netip"

	"secgw/internal/dataplane"
	"secgw/internal/ipsec"
	"secgw/internal/netnsutil"
)

// ProbeESP reports whether the kernel can hold ESP SAs (nil) or why not:
// it adds an AES-GCM SA in a throwaway network namespace, so nothing of
// the host's state is touched. The kernel loads the ESP and crypto
// modules on demand; a kernel built without ESP (or without the crypto
// RNG it needs) fails here. The daemon uses it to choose between this
// dataplane and the userspace one. It needs CAP_SYS_ADMIN.
func ProbeESP() error {
	ns, err := netnsutil.New()
	if err != nil {
		return fmt.Errorf("xfrm: %w", err)
	}
	defer ns.Close()
	d, err := New(Options{NetNS: ns})
	if err != nil {
		return err
	}
	defer d.Close()
	sa := dataplane.SA{Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"), SPI: 0x100,
		ReqID: dataplane.OwnedReqIDs.Min, Encr: ipsec.EncrAESGCM16, EncrKey: make([]byte, 36)}
	if err := d.Apply(context.Background(), []dataplane.Op{{Kind: dataplane.AddSA, SA: &sa}}); err != nil {
		return fmt.Errorf("xfrm: the kernel cannot hold ESP SAs: %w", err)
	}
	return nil
}
