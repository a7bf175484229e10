package ha

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/hatest"
	"secgw/test/secgwdtest"
)

// TestKeepalivedExamples checks examples/ha's keepalived.conf of both
// nodes with keepalived's own configuration test (keepalived -t), in a
// namespace holding the interfaces they name (wan01, lan01: keepalived
// refuses a VRRP instance on a missing interface), so that what the
// README tells operators to install is what keepalived 2.2.7 accepts,
// without a warning.
func TestKeepalivedExamples(t *testing.T) {
	requirePrerequisites(t)
	for i := range hatest.Nodes {
		ns := netnstest.Name(hatest.NSPrefix, uint32(900+i)) + "-k"
		other := ns + "x"
		netnstest.NewNamed(t, ns)
		netnstest.NewNamed(t, other)
		a := hatest.Nodes[i]
		for _, l := range []struct{ name, addr string }{{"wan01", a.WAN.String()}, {"lan01", a.LAN.String()}} {
			hatest.IP(t, ns, fmt.Sprintf("link add %s type veth peer name %s netns %s", l.name, l.name, other))
			hatest.IP(t, ns, "addr add "+l.addr+"/24 dev "+l.name)
			hatest.IP(t, ns, "link set "+l.name+" up")
		}
		conf := filepath.Join(secgwdtest.RepoRoot(), "examples", "ha", fmt.Sprintf("keepalived-node%d.conf", i+1))
		out, err := exec.Command("ip", "netns", "exec", ns, hatest.KeepalivedPath, "-t", "-l", "-f", conf).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("keepalived -t -f %s: %v\n%s", conf, err, out)
		}
	}
}
