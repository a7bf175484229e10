package soak

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"secgw/internal/poll"
)

// op is one kind of step: it acts, checks its immediate outcome, updates
// the model and returns what it did, for the trace.
type op struct {
	name   string
	weight int
	run    func(s *soak) string
}

// ops are the operations of the walk with their weights.
var ops = []op{
	{"commit", 18, (*soak).opCommit},
	{"discard", 4, (*soak).opDiscard},
	{"invalid", 6, (*soak).opInvalid},
	{"confirmed-commit", 3, (*soak).opConfirmed},
	{"confirmed-timeout", 1, (*soak).opConfirmedTimeout},
	{"rollback", 3, (*soak).opRollback},
	{"delete-vrf-main", 1, (*soak).opDeleteVRF},
	{"initiate", 8, (*soak).opInitiate},
	{"rekey", 5, (*soak).opRekey},
	{"reauth", 2, (*soak).opReauth},
	{"flush", 4, (*soak).opFlush},
	{"get", 3, (*soak).opGet},
	{"cli-show", 4, (*soak).opShow},
	{"charon-initiate", 5, (*soak).opCharonInitiate},
	{"charon-terminate", 2, (*soak).opCharonTerminate},
	{"charon-rekey", 3, (*soak).opCharonRekey},
	{"charon-restart", 1, (*soak).opCharonRestart},
	{"traffic", 5, (*soak).opTraffic},
	{"settle", 4, (*soak).opSettle},
}

// pickOp picks an operation by weight.
func (s *soak) pickOp() op {
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	n := s.r.IntN(total)
	for _, o := range ops {
		if n -= o.weight; n < 0 {
			return o
		}
	}
	return ops[0]
}

func (s *soak) opCommit() string {
	mu := s.m.mutate(s.r)
	s.mustRPC(s.a, editConfig(mu.edit))
	s.mustRPC(s.a, `<commit/>`)
	s.committed(mu.next)
	return "commit: " + mu.desc
}

func (s *soak) opDiscard() string {
	mu := s.m.mutate(s.r)
	s.mustRPC(s.a, editConfig(mu.edit))
	s.mustRPC(s.a, `<discard-changes/>`)
	return "edit and discard: " + mu.desc
}

// opInvalid makes an edit that must be refused, at edit-config or at
// the commit.
func (s *soak) opInvalid() string {
	desc, edit := s.m.invalidEdit(s.r)
	if _, err := s.rpc(s.a, editConfig(edit)); err == nil {
		if _, err := s.rpc(s.a, `<commit/>`); err == nil {
			s.fail("an invalid configuration (%s) was committed:\n%s", desc, edit)
		}
		desc += " (refused at commit)"
	} else {
		desc += " (refused at edit-config)"
	}
	s.mustRPC(s.a, `<discard-changes/>`)
	return "invalid: " + desc
}

// opDeleteVRF deletes vrf main, which validation must refuse (known
// defect 5: the commit passed and secgwd could not restart).
func (s *soak) opDeleteVRF() string {
	edit := `<edit-config><target><candidate/></target><config><vrf xmlns="` + nsVRF + `"` + opAttr("delete") +
		`><name>main</name></vrf></config></edit-config>`
	if _, err := s.rpc(s.a, edit); err == nil {
		if _, err := s.rpc(s.a, `<commit/>`); err == nil {
			s.fail("deleting vrf main was committed (known defect 5)")
		}
	}
	s.mustRPC(s.a, `<discard-changes/>`)
	return "invalid: delete vrf main"
}

// confirmTimeout is the confirm-timeout of the confirmed commits that are
// left to expire.
const confirmTimeout = 2

func (s *soak) opConfirmed() string {
	mu := s.m.mutate(s.r)
	s.mustRPC(s.a, editConfig(mu.edit))
	s.mustRPC(s.a, `<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>`)
	s.committed(mu.next)
	s.checkStep()
	s.mustRPC(s.a, `<commit/>`)
	return "confirmed commit, confirmed: " + mu.desc
}

func (s *soak) opConfirmedTimeout() string {
	mu := s.m.mutate(s.r)
	before := s.m
	s.mustRPC(s.a, editConfig(mu.edit))
	s.mustRPC(s.a, fmt.Sprintf(`<commit><confirmed/><confirm-timeout>%d</confirm-timeout></commit>`, confirmTimeout))
	s.committed(mu.next)
	s.checkStep()
	s.m = before
	want := s.expectedRunning()
	if !poll.Until(confirmTimeout*time.Second+rpcBound, func() bool { return s.running(s.a) == want }) {
		s.fail("the confirmed commit (%s) was not reverted %v after its timeout", mu.desc, rpcBound)
	}
	s.m = mu.next
	s.committed(before)
	s.mustRPC(s.a, `<discard-changes/>`)
	return "confirmed commit, timed out: " + mu.desc
}

func (s *soak) opRollback() string {
	ids := sortedKeys(s.history)
	ids = ids[max(0, len(ids)-40):]
	id := ids[s.r.IntN(len(ids))]
	target := s.history[id]
	s.mustRPC(s.a, fmt.Sprintf(`<rollback xmlns="%s"><commit-id>%d</commit-id></rollback>`, nsCfg, id))
	if _, err := s.rpc(s.a, `<commit/>`); err != nil && !(refused(err) && target.ikeXML() == s.m.ikeXML()) {
		s.fail("commit after rollback to %d: %v", id, err)
	}
	s.committed(target)
	return fmt.Sprintf("rollback to commit %d", id)
}

// rpcSA is an RPC of secgw-ike-rpc on an ike-sa (by VPN) or a child-sa
// (by security policy).
func rpcSA(rpc, kind, by, name string) string {
	return fmt.Sprintf(`<%s xmlns="%s"><%s><%s>%s</%s></%s></%s>`, rpc, nsIKE, kind, by, name, by, kind, rpc)
}

// pickPolicy picks one of the policies of the universe (configured or
// not) of A's VPN vpn.
func (s *soak) pickPolicy(vpn string) (string, int) {
	i := s.r.IntN(nets)
	return policyName(vpn, i), i
}

// configured reports whether A has policy i of vpn.
func (s *soak) configured(vpn string, i int) bool {
	v, ok := s.m.VPNs[vpn]
	return ok && slices.Contains(v.Policies, i)
}

func (s *soak) peerUp(vpn string) bool { return vpn == "to-b" || s.charonUp }

func (s *soak) opInitiate() string {
	if s.r.IntN(3) == 0 {
		// From B: A is the responder. The RPC waits for the
		// negotiation: with no VPN on A's address nothing answers and
		// it would wait out B's retransmissions, longer than rpcBound.
		if _, ok := s.m.VPNs["to-b"]; !ok {
			return "B: no initiate (A has no to-b: nothing would answer)"
		}
		p, i := s.pickPolicy("to-b")
		data, err := s.rpc(s.b, rpcSA("initiate", "child-sa", "security-policy", p))
		s.notHung(err)
		ok := s.configured("to-b", i) && s.m.canComeUp("to-b")
		if established(data, err) {
			if !s.configured("to-b", i) {
				s.fail("B initiated %s, which A does not have: A accepted it", p)
			}
			s.expectUp[p] = ok
		}
		return fmt.Sprintf("B: initiate %s: %v established %v", p, errText(err), established(data, err))
	}
	vpn := vpnNames[s.r.IntN(len(vpnNames))]
	p, i := s.pickPolicy(vpn)
	if !s.peerUp(vpn) {
		// The RPC would wait out A's retransmissions to a dead peer.
		return "A: no initiate of " + p + " (charon is down)"
	}
	data, err := s.rpc(s.a, rpcSA("initiate", "child-sa", "security-policy", p))
	s.notHung(err)
	if err == nil && !s.configured(vpn, i) {
		s.fail("A initiated %s, which it does not have", p)
	}
	if established(data, err) {
		s.expectUp[p] = s.m.canComeUp(vpn)
	}
	return fmt.Sprintf("A: initiate %s: %v established %v", p, errText(err), established(data, err))
}

func (s *soak) opRekey() string {
	g, side := s.a, "A"
	if s.r.IntN(3) == 0 {
		g, side = s.b, "B"
	}
	vpn := vpnNames[s.r.IntN(len(vpnNames))]
	var req string
	if s.r.IntN(2) == 0 {
		p, _ := s.pickPolicy(vpn)
		req = rpcSA("rekey", "child-sa", "security-policy", p)
	} else {
		if g == s.b {
			vpn = "to-a"
		}
		req = rpcSA("rekey", "ike-sa", "vpn", vpn)
	}
	_, err := s.rpc(g, req)
	s.notHung(err)
	return fmt.Sprintf("%s: %s: %v", side, req, errText(err))
}

func (s *soak) opReauth() string {
	vpn := vpnNames[s.r.IntN(len(vpnNames))]
	_, err := s.rpc(s.a, rpcSA("reauth", "ike-sa", "vpn", vpn))
	s.notHung(err)
	return fmt.Sprintf("A: reauth %s: %v", vpn, errText(err))
}

func (s *soak) opFlush() string {
	vpn := vpnNames[s.r.IntN(len(vpnNames))]
	g, side, name := s.a, "A", vpn
	if vpn == "to-b" && s.r.IntN(3) == 0 {
		g, side, name = s.b, "B", "to-a"
	}
	var req string
	if s.r.IntN(2) == 0 {
		req = rpcSA("flush", "ike-sa", "vpn", name)
		for i := range nets {
			delete(s.expectUp, policyName(vpn, i))
		}
	} else {
		p, _ := s.pickPolicy(vpn)
		req = rpcSA("flush", "child-sa", "security-policy", p)
		delete(s.expectUp, p)
	}
	_, err := s.rpc(g, req)
	s.notHung(err)
	return fmt.Sprintf("%s: %s: %v", side, req, errText(err))
}

func (s *soak) opGet() string {
	g := s.a
	if s.r.IntN(3) == 0 {
		g = s.b
	}
	data := s.mustRPC(g, `<get/>`)
	if _, err := parseXML(data); err != nil {
		s.fail("secgwd %s: <get>: %v", g.name, err)
	}
	return "get on " + g.name
}

// shows are the CLI commands of the walk.
var shows = [][]string{
	{"show", "ike", "ike-sa"},
	{"show", "ike", "ike-sa", "details"},
	{"show", "state"},
	{"show", "config"},
}

func (s *soak) opShow() string {
	g := s.a
	if s.r.IntN(3) == 0 {
		g = s.b
	}
	args := shows[s.r.IntN(len(shows))]
	out, err := g.cli(args...)
	if err != nil || strings.Contains(strings.ToLower(out), "internal error") {
		s.fail("secgwd %s: secgw %s: %v\n%s", g.name, strings.Join(args, " "), err, out)
	}
	return "secgw " + strings.Join(args, " ") + " on " + g.name
}

func (s *soak) opCharonInitiate() string {
	if !s.charonUp {
		return "charon down: no initiate"
	}
	p, i := s.pickPolicy("to-c")
	out, err := s.ch.Swanctl("--initiate", "--child", p, "--timeout", "5")
	if err == nil {
		if !s.configured("to-c", i) {
			s.fail("charon initiated %s, which A does not have: A accepted it\n%s", p, out)
		}
		s.expectUp[p] = s.m.canComeUp("to-c")
	}
	return fmt.Sprintf("charon: initiate %s: %v", p, errText(err))
}

func (s *soak) opCharonTerminate() string {
	if !s.charonUp {
		return "charon down: no terminate"
	}
	_, err := s.ch.Swanctl("--terminate", "--ike", "secgw", "--timeout", "5")
	for i := range nets {
		delete(s.expectUp, policyName("to-c", i))
	}
	return fmt.Sprintf("charon: terminate: %v", errText(err))
}

func (s *soak) opCharonRekey() string {
	if !s.charonUp {
		return "charon down: no rekey"
	}
	args := []string{"--rekey", "--ike", "secgw"}
	if s.r.IntN(2) == 0 {
		p, _ := s.pickPolicy("to-c")
		args = []string{"--rekey", "--child", p}
	}
	_, err := s.ch.Swanctl(args...)
	return fmt.Sprintf("charon: %s: %v", strings.Join(args, " "), errText(err))
}

// opCharonRestart stops charon (it deletes its IKE SAs with A) and
// starts it again, sometimes after a step of the walk without it.
func (s *soak) opCharonRestart() string {
	if s.charonUp {
		s.ch.Stop()
		s.charonUp = false
		for i := range nets {
			delete(s.expectUp, policyName("to-c", i))
		}
		if s.r.IntN(2) == 0 {
			return "charon: stop"
		}
	}
	if err := s.ch.Start(); err != nil {
		s.fail("%v", err)
	}
	if err := s.ch.TryLoad(charonConf()); err != nil {
		s.fail("%v", err)
	}
	s.charonUp = true
	return "charon: start"
}

func (s *soak) opTraffic() string {
	s.settle()
	return s.checkTraffic(s.r.IntN(3) == 0)
}

func (s *soak) opSettle() string {
	s.settle()
	return "settle"
}

// established reports whether an initiate RPC established its child SA:
// a failed negotiation is a reply with count 0 and the reason in its
// messages, not an rpc-error.
func established(data string, err error) bool {
	if err != nil {
		return false
	}
	root, perr := parseXML(data)
	if perr != nil {
		return false
	}
	var count int
	for _, n := range root.kids {
		if n.name == "count" {
			count, _ = strconv.Atoi(n.text)
		}
	}
	return count > 0
}

// notHung fails on a request that hung or broke the session (not on a
// refusal).
func (s *soak) notHung(err error) {
	if err != nil && !refused(err) {
		s.fail("%v", err)
	}
}

var spaces = regexp.MustCompile(`\s+`)

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return strconv.Quote(spaces.ReplaceAllString(err.Error(), " "))
}
