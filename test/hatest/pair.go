package hatest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"secgw/internal/poll"
	"secgw/test/secgwdtest"
)

// ExampleConfig is examples/ha/node<id>.xml, the content of its
// <config>: the configuration test/ha commits to node id, as an operator
// would.
func ExampleConfig(t testing.TB, id int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(secgwdtest.RepoRoot(), "examples", "ha", fmt.Sprintf("node%d.xml", id)))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	s = strings.TrimPrefix(s, `<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">`)
	return strings.TrimSuffix(s, `</config>`)
}

// WithoutHA removes the vrrp and ike ha containers from a configuration:
// the VPNs alone, for the runs that compare with no HA.
func WithoutHA(config string) string {
	return haRE.ReplaceAllString(vrrpRE.ReplaceAllString(config, ""), "")
}

// PairOptions tune StartPair.
type PairOptions struct {
	// Flags are more secgwd flags.
	Flags []string
	// Config returns node id's configuration; nil: ExampleConfig.
	Config func(t testing.TB, id int) string
}

// Pair is the reference topology running: two nodes with secgwd and
// keepalived, node 1 master.
type Pair struct {
	Top   *Topology
	Nodes [2]*Node
}

// StartPair builds the topology, starts secgwd on both nodes with
// examples/ha's configuration, then keepalived on node 1 (which becomes
// master) and on node 2 (backup), and waits until each notify reached
// its secgwd (the notify script's secgw exited 0).
func StartPair(t testing.TB, secgwd, secgw string, o PairOptions) *Pair {
	t.Helper()
	p := &Pair{Top: New(t)}
	if o.Config == nil {
		o.Config = ExampleConfig
	}
	withHA := true
	for i := range p.Nodes {
		n := NewNode(t, i+1, p.Top.Node[i], secgwd, secgw, o.Flags...)
		n.Start(t)
		cfg := o.Config(t, i+1)
		withHA = withHA && strings.Contains(cfg, "<ha xmlns")
		n.MustCommit(t, cfg)
		p.Nodes[i] = n
	}
	for i, n := range p.Nodes {
		n.KA = StartKeepalived(t, n.NS, i, secgw, n.Dir, TUN)
		want := []string{"MASTER", "BACKUP"}[i]
		// Without ike ha, secgwd refuses the notification: only its
		// arrival is checked.
		if got, ok := n.KA.WaitState(want, 10*time.Second); !ok || (withHA && got.RC != "0") {
			t.Fatalf("hatest: node %d: keepalived did not notify %s to secgwd within 10 s (last: %q)\n%s", n.ID, want, got.Line, n.KA.NotifyLog())
		}
	}
	return p
}

// HAState is secgwd's vrf main ike ha state.
type HAState struct {
	Role, PeerRole                 string
	PeerConnected                  bool
	SplitBrains, Resyncs           uint64
	IKESynced, ChildSynced         uint64
	Sent, Received, Rejected, Trns uint64
	Raw                            string
}

var leafRE = regexp.MustCompile(`<([a-z-]+)>([^<]*)</([a-z-]+)>`)

// State reads the node's HA state over NETCONF.
func (n *Node) State() (HAState, error) {
	data, err := n.RPC(`<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>` +
		`<ike xmlns="urn:secgw:yang:secgw-ike"><ha xmlns="urn:secgw:yang:secgw-ha"><state/></ha></ike></vrf></filter></get>`)
	if err != nil {
		return HAState{}, err
	}
	s := HAState{Raw: data}
	u := func(v string) uint64 { x, _ := strconv.ParseUint(v, 10, 64); return x }
	for _, m := range leafRE.FindAllStringSubmatch(data, -1) {
		switch m[1] {
		case "role":
			s.Role = m[2]
		case "peer-role":
			s.PeerRole = m[2]
		case "split-brains":
			s.SplitBrains = u(m[2])
		case "resyncs":
			s.Resyncs = u(m[2])
		case "peer-connected":
			s.PeerConnected = m[2] == "true"
		case "ike-sa-synced":
			s.IKESynced = u(m[2])
		case "child-sa-synced":
			s.ChildSynced = u(m[2])
		case "messages-sent":
			s.Sent = u(m[2])
		case "messages-received":
			s.Received = u(m[2])
		case "messages-rejected":
			s.Rejected = u(m[2])
		case "transitions":
			s.Trns = u(m[2])
		}
	}
	return s, nil
}

// WaitState polls the node's HA state for up to d until ok holds, and
// returns the last state read.
func (n *Node) WaitState(d time.Duration, ok func(HAState) bool) (HAState, bool) {
	var last HAState
	held := poll.Until(d, func() bool {
		s, err := n.State()
		if err != nil {
			return false
		}
		last = s
		return ok(s)
	})
	return last, held
}

var (
	vrrpRE = regexp.MustCompile(`(?s)<vrrp xmlns.*?</vrrp>`)
	haRE   = regexp.MustCompile(`(?s)<ha xmlns.*?</ha>`)
)

// WithHA adds examples/ha's vrrp group and ike ha of node id to config,
// a <vrf> of vrf main with an <ike> (loadtest.SecgwdConfig's shape): the
// HA part of the example on another set of VPNs.
func WithHA(t testing.TB, config string, id int) string {
	t.Helper()
	ex := ExampleConfig(t, id)
	vrrp, ha := vrrpRE.FindString(ex), haRE.FindString(ex)
	const name, end = "<name>main</name>", "</ike></vrf>"
	if vrrp == "" || ha == "" || !strings.Contains(config, name) || !strings.HasSuffix(config, end) {
		t.Fatalf("hatest: cannot add the HA configuration to %.200s", config)
	}
	config = strings.Replace(config, name, name+vrrp, 1)
	return strings.TrimSuffix(config, end) + ha + end
}
