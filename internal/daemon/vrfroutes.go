package daemon

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netns"

	"secgw/internal/ikesvc"
	"secgw/internal/routes"
)

// vrfRouting opens the routing of the vrfs a routing's inject-routes
// name (inject-routes vrf NAME): main is the namespace secgwd runs in,
// another vrf the namespace bound at dir/NAME. The rtnetlink sockets are
// kept, one per vrf, and reopened when the namespace was replaced (ip
// netns del and add), so that the manager's next reconcile finds its
// routes gone and adds them to the new one. A missing namespace is an
// error: the routes wait for the reconcile after it appears. The routes
// are of protocol routes.ProtocolOtherVRF ("proto 212"): the routing of
// that vrf's own IKE instance, which cleans up its protocol 211, leaves
// them alone.
type vrfRouting struct {
	dir string

	mu   sync.Mutex // guards open
	open map[string]vrfOS
}

type vrfOS struct {
	nl *routes.Netlink
	id fileID // zero for main
}

func newVRFRouting(dir string) *vrfRouting {
	return &vrfRouting{dir: dir, open: map[string]vrfOS{}}
}

// os implements routes.Options.OSOf.
func (v *vrfRouting) os(vrf string) (routes.OS, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cur, ok := v.open[vrf]
	if vrf == ikesvc.VRF {
		if ok {
			return cur.nl, nil
		}
		nl, err := routes.NewNetlinkProto(netns.None(), routes.ProtocolOtherVRF)
		if err != nil {
			return nil, err
		}
		v.open[vrf] = vrfOS{nl: nl}
		return nl, nil
	}
	path := filepath.Join(v.dir, vrf)
	id, there := statID(path)
	if ok && (!there || id != cur.id) {
		cur.nl.Close()
		delete(v.open, vrf)
		ok = false
	}
	if !there {
		return nil, fmt.Errorf("daemon: vrf %s: no namespace %s", vrf, path)
	}
	if ok {
		return cur.nl, nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("daemon: vrf %s: %w", vrf, err)
	}
	defer ns.Close() // the sockets keep the namespace
	nl, err := routes.NewNetlinkProto(ns, routes.ProtocolOtherVRF)
	if err != nil {
		return nil, fmt.Errorf("daemon: vrf %s: %w", vrf, err)
	}
	v.open[vrf] = vrfOS{nl: nl, id: id}
	return nl, nil
}

// close closes every socket.
func (v *vrfRouting) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for vrf, o := range v.open {
		o.nl.Close()
		delete(v.open, vrf)
	}
}
