package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/ike/engine"
	"secgw/internal/pool"
)

// vrfHost is what the instance of a vrf other than main holds beside its
// dataplane, as the daemon does for vrf main: the lease store of the
// vrf's pools and the host side of the virtual IPs it receives, both of
// that vrf alone.
type vrfHost struct {
	pools *pool.Manager
	vips  *vipHost
	nl    *netlink.Handle // the vrf's namespace, for vips
}

// vrfLeaseFile is the lease file of the pools of vrf name under the data
// directory: a vrf's pools are its own, and so are their leases (two
// vrfs may have pools of the same name and addresses).
func vrfLeaseFile(dir, name string) string {
	return filepath.Join(dir, "pools", "vrf", name, "leases")
}

// openHost opens in's lease store and VIP host. The vrf name is a
// directory name there: "." and ".." (which the model's pattern lets
// through, and which name no namespace of their own) are refused, or
// the vrf would share another's lease file.
func (in *vrfInstance) openHost(dataDir string, logger *slog.Logger) error {
	if in.name == "." || in.name == ".." || filepath.Base(in.name) != in.name {
		return fmt.Errorf("daemon: vrf %q is not a namespace name", in.name)
	}
	m, err := pool.Open(pool.Options{Path: vrfLeaseFile(dataDir, in.name), Logger: logger.With("subsystem", "ike")})
	if err != nil {
		return fmt.Errorf("daemon: vrf %s: %w", in.name, err)
	}
	in.host.pools = m
	nl, err := netlink.NewHandleAt(in.ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("daemon: vrf %s: %w", in.name, err)
	}
	in.host.nl = nl
	in.host.vips = newVIPHost(logger.With("subsystem", "ike"))
	in.host.vips.nl = nl
	return nil
}

// close removes the virtual IPs still installed and closes the lease
// store and the netlink handle.
func (h *vrfHost) close() {
	if h.vips != nil {
		h.vips.closeVIPs()
	}
	if h.pools != nil {
		_ = h.pools.Close()
	}
	if h.nl != nil {
		h.nl.Close()
	}
}

// activityOf is when a child SA last received and sent traffic through
// dp (ikesvc.Options.Activity): DPD takes inbound ESP as proof of the
// peer's liveness, and dpd-mode optimized probes only after outbound
// traffic.
func activityOf(dp dataplane.Dataplane) func(c engine.ChildSA) (in, out time.Time) {
	return func(c engine.ChildSA) (in, out time.Time) {
		ctx := context.Background()
		if k, err := dp.Counters(ctx, dataplane.SAKey{Dst: c.Local.Addr(), SPI: c.InSPI}); err == nil {
			in = k.LastUsed
		}
		if k, err := dp.Counters(ctx, dataplane.SAKey{Dst: c.Remote.Addr(), SPI: c.OutSPI}); err == nil {
			out = k.LastUsed
		}
		return in, out
	}
}
