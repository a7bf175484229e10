package netconf

import (
	"context"
	"errors"
	"strconv"
	"time"

	"secgw/generated"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
	"secgw/internal/xpath"
)

// Defaults of the bounds on one xpath filter (Config.XPathMaxSteps,
// Config.XPathTimeout). A step is one node an axis yields, one node a
// predicate is evaluated for, one pair of nodes compared, one node read
// for a string-value (xpath.EvalWithin). Measured on 2 vCPUs over the
// 10k-VPN concentrator: about 3 million steps a second for the worst
// shape (a quadratic predicate, which allocates a node per step), so the
// step budget stops it in about 1.5 s and the timeout catches anything
// slower per step. Filters that name what they want stay far below: a
// scan of every node of 100k VPNs ("//vpn[remote-id = 'x']") is about 3
// million steps, "/vrf/ike/vpn[ike-policy/template = 't1']/name" over 10k
// VPNs 15 ms.
const (
	DefaultXPathMaxSteps int64 = 5_000_000
	DefaultXPathTimeout        = 2 * time.Second
)

// xpathLimits returns the bounds of one filter: 0 in the Config means the
// default, a negative value no bound.
func (srv *Server) xpathLimits() (steps int64, timeout time.Duration) {
	steps, timeout = srv.cfg.XPathMaxSteps, srv.cfg.XPathTimeout
	if steps == 0 {
		steps = DefaultXPathMaxSteps
	}
	if timeout == 0 {
		timeout = DefaultXPathTimeout
	}
	return max(steps, 0), timeout
}

// xpathFilter turns an XPath filter (RFC 6241 §8.9) into the subtree
// filter that selects the same nodes: the expression is evaluated on the
// tree, and each selected node becomes a chain of containment nodes down
// to a selection node (list entries matched by their key).
//
// Prefixes in the expression are resolved with ns, the namespace
// declarations in scope at the filter: a prefix not declared there is an
// error (XPath 1.0 §2.3), and a prefixed name selects only the nodes of
// the module whose namespace it is bound to.
//
// The tree is the one the session may see: secrets says whether secret
// leaves exist in it, and read, when set, is the session's NACM read
// check, which hides the nodes it denies from the expression (RFC 8341
// §3.2.4) and then decides secrets too. The evaluation is bounded by a
// step budget and a deadline (xpathLimits), and stops when the session ends
// (ctx): a filter over the limits is refused with resource-denied (RFC
// 6241 Appendix A, "request could not be completed because of
// insufficient resources"). The expression is never logged: an admin's
// may hold a key it compares with.
func (srv *Server) xpathFilter(ctx context.Context, s *transport.Session, d *generated.Device, expr string, ns func(string) (string, bool), secrets bool, read validate.ReadFunc) (*xmlcodec.Filter, error) {
	steps, timeout := srv.xpathLimits()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	sels, err := srv.validator().Select(ctx, d, expr, validate.SelectOptions{Secrets: secrets || read != nil, Read: read, MaxSteps: steps, Namespaces: ns})
	var le *xpath.LimitError
	switch {
	case errors.As(err, &le):
		var msg string
		switch {
		case errors.Is(le, xpath.ErrStepLimit):
			msg = "the xpath filter needs more than " + strconv.FormatInt(steps, 10) + " steps of evaluation, the server's limit: select fewer nodes, or use a subtree filter"
		case errors.Is(le, context.DeadlineExceeded):
			msg = "the xpath filter was not evaluated within " + timeout.String() + ", the server's limit: select fewer nodes, or use a subtree filter"
		default:
			msg = "the xpath filter was abandoned: the session ended"
		}
		srv.log.Info("netconf xpath filter refused", "user", s.User(), "session", s.ID(), "steps", le.Steps,
			"elapsed", time.Since(start).Round(time.Millisecond), "reason", le.Err.Error())
		return nil, opError("application", "resource-denied", msg, nil)
	case err != nil:
		return nil, opError("application", "invalid-value", err.Error(), map[string]string{"bad-attribute": "select", "bad-element": "filter"})
	}
	f := &xmlcodec.Filter{Nodes: []*xmlcodec.FilterNode{}}
	whole := map[*xmlcodec.FilterNode]bool{}
	for _, sel := range sels {
		level := &f.Nodes
		var node *xmlcodec.FilterNode
		for i, e := range sel.Path {
			last := i == len(sel.Path)-1
			node = findChild(*level, e)
			if node == nil {
				node = &xmlcodec.FilterNode{Name: e.Name}
				if e.KeyName != "" {
					node.Children = []*xmlcodec.FilterNode{{Name: e.KeyName, Text: e.Key}}
				}
				if last && sel.LeafList {
					node.Text = sel.Value
				}
				*level = append(*level, node)
			}
			if whole[node] {
				break // an ancestor is selected whole already
			}
			if last && !sel.LeafList {
				whole[node] = true
				// Selected whole: keep only the key match, if any.
				if e.KeyName != "" {
					node.Children = node.Children[:1]
				} else {
					node.Children = nil
				}
			}
			level = &node.Children
		}
	}
	if len(f.Nodes) == 0 {
		// Nothing selected: a filter that matches nothing.
		f.Nodes = []*xmlcodec.FilterNode{{Name: "no-node-selected", Space: "urn:secgw:none"}}
	}
	return f, nil
}

func findChild(nodes []*xmlcodec.FilterNode, e schema.Elem) *xmlcodec.FilterNode {
	for _, n := range nodes {
		if n.Name != e.Name {
			continue
		}
		if e.KeyName == "" {
			if n.Text == "" {
				return n
			}
			continue
		}
		if len(n.Children) > 0 && n.Children[0].Name == e.KeyName && n.Children[0].Text == e.Key {
			return n
		}
	}
	return nil
}
