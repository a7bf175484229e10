package netconf

import (
	"bytes"
	"encoding/xml"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"secgw/internal/datastore"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
)

// Namespaces of notifications (RFC 5277, RFC 6470).
const (
	NSNotification = transport.NSNotification
	NSNCNotif      = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
)

// notifier fans events out to the sessions that subscribed with
// create-subscription (RFC 5277; stream NETCONF, no replay).
type notifier struct {
	mu   sync.Mutex
	subs map[uint32]*subscriber
	// now stamps events when they are published (their eventTime, RFC
	// 5277 §4); nil is time.Now. Tests set a clock.
	now func() time.Time
	// killers maps a session that <kill-session> is ending to the session
	// that asked, for the killed-by of its netconf-session-end.
	killers map[uint32]uint32
	// allow, when not nil, says whether a session may receive
	// notification name of module (RFC 8341 §3.4.6).
	allow func(s *transport.Session, module, name string) bool
}

// setKiller records that killer is ending session id; a kill already
// under way keeps its killer.
func (n *notifier) setKiller(id, killer uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.killers == nil {
		n.killers = map[uint32]uint32{}
	}
	if _, ok := n.killers[id]; !ok {
		n.killers[id] = killer
	}
}

// takeKiller returns and forgets the session ending session id, if any.
func (n *notifier) takeKiller(id uint32) (uint32, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k, ok := n.killers[id]
	delete(n.killers, id)
	return k, ok
}

// killSession ends session id for <kill-session> from session killer
// (RFC 6241 §7.9). The session-end event of the victim is published
// while Kill runs (transport.Server.Kill ends the session and runs its
// hooks before it returns), so it finds the killer recorded; whatever is
// left afterwards (the session was ending anyway) is dropped.
func (srv *Server) killSession(killer, id uint32) error {
	srv.events.setKiller(id, killer)
	defer srv.events.takeKiller(id)
	return srv.tr.Kill(id)
}

// subscriber is a subscribed session with its queue of events: one
// goroutine per session sends them in the order they were published (RFC
// 5277 §2.2.1: notifications are sent in order), so that a slow client
// never holds up a commit or the IKE engine.
type subscriber struct {
	s     *transport.Session
	queue chan event
}

// event is a published notification and the time it was published.
type event struct {
	at  time.Time
	xml []byte
}

// subscriberQueue is how many events a session may lag behind; beyond
// it, events for that session are dropped (and the drop logged once per
// burst) rather than block the publisher.
const subscriberQueue = 4096

func (n *notifier) add(s *transport.Session) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.subs == nil {
		n.subs = map[uint32]*subscriber{}
	}
	if _, dup := n.subs[s.ID()]; dup {
		return false
	}
	sub := &subscriber{s: s, queue: make(chan event, subscriberQueue)}
	n.subs[s.ID()] = sub
	go func() {
		for ev := range sub.queue {
			_ = sub.s.NotifyAt(ev.at, ev.xml)
		}
	}()
	return true
}

func (n *notifier) remove(id uint32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if sub := n.subs[id]; sub != nil {
		close(sub.queue)
		delete(n.subs, id)
	}
}

// subscribed reports whether a session is subscribed.
func (n *notifier) subscribed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.subs) > 0
}

// publish queues an event, notification name of module, for every
// subscriber the access control lets receive it, in order, stamped with
// the time it happened: now.
func (n *notifier) publish(module, name string, xml []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := event{xml: xml}
	if n.now != nil {
		ev.at = n.now()
	} else {
		ev.at = time.Now()
	}
	for _, sub := range n.subs {
		if n.allow != nil && !n.allow(sub.s, module, name) {
			continue
		}
		select {
		case sub.queue <- ev:
		default:
			// The session is not reading: drop rather than stall.
		}
	}
}

// createSubscription subscribes the session to the NETCONF stream.
func (srv *Server) createSubscription(s *transport.Session, rpc *transport.RPC) ([]byte, error) {
	var p struct {
		Stream    string    `xml:"stream"`
		Filter    *struct{} `xml:"filter"`
		StartTime string    `xml:"startTime"`
		StopTime  string    `xml:"stopTime"`
	}
	if err := rpc.Decode(&p); err != nil {
		return nil, malformed(err)
	}
	if st := strings.TrimSpace(p.Stream); st != "" && st != "NETCONF" {
		return nil, opError("application", "invalid-value", "no stream "+st+" (the stream is NETCONF)", map[string]string{"bad-element": "stream"})
	}
	if p.StartTime != "" || p.StopTime != "" {
		return nil, opError("application", "operation-not-supported", "event replay is not supported: omit startTime and stopTime", nil)
	}
	if p.Filter != nil {
		return nil, opError("application", "operation-not-supported", "event filters are not supported: every event is sent", nil)
	}
	if !srv.events.add(s) {
		return nil, opError("protocol", "in-use", "this session already has a subscription", nil)
	}
	id := s.ID()
	s.OnClose(func() { srv.events.remove(id) })
	return nil, nil
}

func host(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// sessionStart publishes netconf-session-start (RFC 6470 §2.2.2).
func (srv *Server) sessionStart(s *transport.Session) {
	var b bytes.Buffer
	b.WriteString(`<netconf-session-start xmlns="` + NSNCNotif + `"><username>`)
	_ = xml.EscapeText(&b, []byte(s.User()))
	b.WriteString(`</username><session-id>` + strconv.FormatUint(uint64(s.ID()), 10) + `</session-id><source-host>`)
	_ = xml.EscapeText(&b, []byte(host(s.RemoteAddr())))
	b.WriteString(`</source-host></netconf-session-start>`)
	srv.events.publish("ietf-netconf-notifications", "netconf-session-start", b.Bytes())
}

// sessionEnd publishes netconf-session-end (RFC 6470 §2.2.3). A session
// ended by <kill-session> carries killed-by, the session-id of the
// session that killed it: RFC 6470's killed-by leaf, present when
// termination-reason is "killed" and the killer is a NETCONF session.
func (srv *Server) sessionEnd(s *transport.Session, reason string) {
	why := "dropped"
	switch {
	case reason == "closed" || strings.Contains(reason, "close-session"):
		why = "closed"
	case strings.Contains(reason, "kill"):
		why = "killed"
	case strings.Contains(reason, "timeout"):
		why = "timeout"
	case strings.Contains(reason, "hello"):
		why = "bad-hello"
	}
	var b bytes.Buffer
	b.WriteString(`<netconf-session-end xmlns="` + NSNCNotif + `"><username>`)
	_ = xml.EscapeText(&b, []byte(s.User()))
	b.WriteString(`</username><session-id>` + strconv.FormatUint(uint64(s.ID()), 10) + `</session-id><source-host>`)
	_ = xml.EscapeText(&b, []byte(host(s.RemoteAddr())))
	b.WriteString(`</source-host>`)
	if killer, ok := srv.events.takeKiller(s.ID()); ok && why == "killed" {
		// Before termination-reason, in the order of the module.
		b.WriteString(`<killed-by>` + strconv.FormatUint(uint64(killer), 10) + `</killed-by>`)
	}
	b.WriteString(`<termination-reason>` + why + `</termination-reason></netconf-session-end>`)
	srv.events.publish("ietf-netconf-notifications", "netconf-session-end", b.Bytes())
}

// configChange is the datastore subscriber that publishes
// netconf-config-change (RFC 6470 §2.2.1) after each commit.
type configChange struct{ srv *Server }

func (configChange) Name() string                { return "netconf notifications" }
func (configChange) Prepare(*datastore.Tx) error { return nil }
func (configChange) Abort(*datastore.Tx)         {}
func (c configChange) Apply(tx *datastore.Tx) error {
	var b bytes.Buffer
	b.WriteString(`<netconf-config-change xmlns="` + NSNCNotif + `"><changed-by>`)
	if tx.Session != 0 {
		b.WriteString(`<username>`)
		_ = xml.EscapeText(&b, []byte(tx.User))
		b.WriteString(`</username><session-id>` + strconv.FormatUint(uint64(tx.Session), 10) + `</session-id>`)
	} else {
		b.WriteString(`<server/>`)
	}
	b.WriteString(`</changed-by><datastore>running</datastore>`)
	for _, ch := range tx.Changes {
		target, decls := c.srv.prefixedPath(ch.Path)
		b.WriteString(`<edit><target` + decls + `>`)
		b.WriteString(textEscaper.Replace(target))
		op := "merge"
		switch ch.Op {
		case datastore.Create:
			op = "create"
		case datastore.Delete:
			op = "delete"
		}
		b.WriteString(`</target><operation>` + op + `</operation></edit>`)
	}
	b.WriteString(`</netconf-config-change>`)
	c.srv.events.publish("ietf-netconf-notifications", "netconf-config-change", b.Bytes())
	return nil
}

// textEscaper escapes element text; quotes stay as they are, which keeps
// instance identifiers readable.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// prefixedPath renders an instance identifier with module prefixes, as
// RFC 6470's target is, and the namespace declarations it needs.
func (srv *Server) prefixedPath(p schema.DataPath) (string, string) {
	var out strings.Builder
	decls := map[string]string{}
	e := srv.cfg.Schema.Root
	for _, el := range p {
		e = schema.Child(e, el.Name)
		prefix := ""
		if e != nil {
			if ns := e.Namespace(); ns != nil {
				for name, m := range srv.cfg.Schema.Modules {
					if mns := m.Namespace(); mns != nil && mns.Name == ns.Name {
						prefix = strings.TrimPrefix(name, "secgw-")
						decls[prefix] = ns.Name
					}
				}
			}
		}
		if prefix != "" {
			prefix += ":" // an unknown node (in an error) has none
		}
		out.WriteString("/" + prefix + el.Name)
		if el.KeyName != "" {
			out.WriteString("[" + prefix + el.KeyName + "='" + el.Key + "']")
		}
	}
	var d strings.Builder
	for pfx, ns := range decls {
		d.WriteString(` xmlns:` + pfx + `="` + ns + `"`)
	}
	return out.String(), d.String()
}
