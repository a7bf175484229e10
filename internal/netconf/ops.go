package netconf

import (
	"bytes"
	"context"
	"encoding/xml"
	"strconv"
	"strings"
	"time"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/nacm"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// HandleRPC implements transport.Handler: one operation, one reply.
func (srv *Server) HandleRPC(ctx context.Context, s *transport.Session, rpc *transport.RPC) []byte {
	op := rpc.Operation
	// RFC 8341 §3.4.4: every operation is checked before it runs.
	if srv.policy().Exec(nacmUser(s), srv.moduleOf(op.Space), op.Local, false) != nacm.Permit {
		srv.denied.ops.Add(1)
		return srv.rpcError(accessDenied(s, "run "+op.Local, nil))
	}
	var reply []byte
	var err error
	switch op.Space {
	case NSBase:
		reply, err = srv.base(ctx, s, rpc)
	case NSMonitoring:
		if op.Local == "get-schema" {
			reply, err = srv.getSchema(rpc)
		} else {
			err = unsupported(op)
		}
	case NSNotification:
		if op.Local == "create-subscription" {
			reply, err = srv.createSubscription(s, rpc)
		} else {
			err = unsupported(op)
		}
	case NSConfig:
		if op.Local == "rollback" {
			err = srv.rollback(s, rpc)
		} else {
			err = unsupported(op)
		}
	case NSAAA:
		switch op.Local {
		case "set-password":
			err = srv.setPassword(s, rpc)
		case "migrate-users":
			err = srv.migrateUsers(s)
		default:
			err = unsupported(op)
		}
	case NSIKE, NSHA:
		if h := srv.cfg.RPCs[op.Local]; h != nil {
			reply, err = h.call(ctx, srv, op, rpc.Body)
		} else {
			err = unsupported(op)
		}
	default:
		err = unsupported(op)
	}
	if err != nil {
		return srv.rpcError(err)
	}
	return reply
}

func unsupported(op xml.Name) error {
	return opError("protocol", "operation-not-supported", "operation "+op.Local+" ("+op.Space+") is not supported", map[string]string{"bad-element": op.Local})
}

// datastoreRef is <source> or <target>: one of running, candidate,
// startup, url, or (for some sources) an inline config. Exactly one: the
// parameter is a YANG choice (RFC 6241 §7.1 "the configuration datastore
// being queried", ietf-netconf's config-source and config-target), so a
// second one is an error, not ignored (name and one).
type datastoreRef struct {
	Running   *struct{}
	Candidate *struct{}
	Startup   *struct{}
	URL       *string
	Config    *configContent
	elem      string   // source or target
	given     []string // the child elements, in order
}

// configContent is an inline <config> parameter (edit-config, copy-config
// and validate sources), parsed where the operation is decoded: one pass
// over the message, with the namespaces declared on <rpc> and <config>
// in scope (xmlcodec.ParseElements). An error in its content is kept in
// err and reported when the configuration is decoded, after the checks of
// the other parameters.
type configContent struct {
	els *xmlcodec.Elements
	err error
}

// UnmarshalXML parses the content of <config> with xmlcodec.ParseElements.
func (c *configContent) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	c.els, c.err = xmlcodec.ParseElements(dec)
	return nil
}

// UnmarshalXML records every child element, so that two datastores are
// seen (encoding/xml would keep the last of each name and ignore others).
func (d *datastoreRef) UnmarshalXML(dec *xml.Decoder, start xml.StartElement) error {
	d.elem = start.Name.Local
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return nil
		case xml.StartElement:
			// Unqualified children are taken as NETCONF's, as before:
			// ncclient builds an inline <config> without a namespace.
			name := t.Name.Local
			if t.Name.Space != NSBase && t.Name.Space != "" {
				name = "{" + t.Name.Space + "}" + name
			}
			d.given = append(d.given, name)
			switch name {
			case "running":
				d.Running = &struct{}{}
			case "candidate":
				d.Candidate = &struct{}{}
			case "startup":
				d.Startup = &struct{}{}
			case "url":
				var u string
				if err := dec.DecodeElement(&u, &t); err != nil {
					return err
				}
				d.URL = &u
				continue
			case "config":
				var c configContent
				if err := dec.DecodeElement(&c, &t); err != nil {
					return err
				}
				d.Config = &c
				continue
			}
			if err := dec.Skip(); err != nil {
				return err
			}
		}
	}
}

// one checks that the element names exactly one known datastore or
// config.
func (d *datastoreRef) one() error {
	if d == nil {
		return opError("protocol", "missing-element", "no datastore given", map[string]string{"bad-element": "target"})
	}
	if len(d.given) == 0 {
		return opError("protocol", "missing-element", "no datastore given in "+d.elem, map[string]string{"bad-element": d.elem})
	}
	for _, g := range d.given {
		switch g {
		case "running", "candidate", "startup", "url", "config":
		default:
			return opError("protocol", "unknown-element", d.elem+" names "+g+", which is not a datastore", map[string]string{"bad-element": g})
		}
	}
	if len(d.given) > 1 {
		return opError("protocol", "bad-element", d.elem+" names "+strings.Join(d.given, " and ")+": it takes exactly one datastore", map[string]string{"bad-element": d.elem})
	}
	return nil
}

// source is d, or for a missing <source> an empty one that one refuses
// naming the element.
func source(d *datastoreRef) *datastoreRef {
	if d == nil {
		return &datastoreRef{elem: "source"}
	}
	return d
}

func (d *datastoreRef) name() (datastore.Datastore, error) {
	if err := d.one(); err != nil {
		return "", err
	}
	switch {
	case d.Running != nil:
		return datastore.Running, nil
	case d.Candidate != nil:
		return datastore.Candidate, nil
	case d.Startup != nil:
		return datastore.Startup, nil
	}
	return "", opError("protocol", "invalid-value", "unsupported datastore (url is not supported)", nil)
}

type filterParam struct {
	Type   string     `xml:"type,attr"`
	Select string     `xml:"select,attr"`
	Attrs  []xml.Attr `xml:",any,attr"` // namespace declarations among them
	XML    []byte     `xml:",innerxml"`
}

type getParams struct {
	Attrs        []xml.Attr    `xml:",any,attr"`
	Source       *datastoreRef `xml:"source"`
	Filter       *filterParam  `xml:"filter"`
	WithDefaults string        `xml:"urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults with-defaults"`
}

type editParams struct {
	Target           *datastoreRef  `xml:"target"`
	DefaultOperation string         `xml:"default-operation"`
	TestOption       string         `xml:"test-option"`
	ErrorOption      string         `xml:"error-option"`
	Config           *configContent `xml:"config"`
}

type commitParams struct {
	Confirmed      *struct{} `xml:"confirmed"`
	ConfirmTimeout string    `xml:"confirm-timeout"`
	Persist        string    `xml:"persist"`
	PersistID      string    `xml:"persist-id"`
	// Comment is secgw's own parameter of <commit> (ietf-netconf's has
	// none): <comment xmlns="urn:secgw:yang:secgw-config">, kept with the
	// commit in config-history. Other servers ignore it.
	Comment string `xml:"urn:secgw:yang:secgw-config comment"`
}

// maxCommentLen bounds a commit comment: the history keeps it on disk
// for every kept commit.
const maxCommentLen = 1024

type lockParams struct {
	Target *datastoreRef `xml:"target"`
}

type copyParams struct {
	Target *datastoreRef `xml:"target"`
	Source *datastoreRef `xml:"source"`
}

type killParams struct {
	SessionID string `xml:"session-id"`
}

func (srv *Server) base(ctx context.Context, s *transport.Session, rpc *transport.RPC) ([]byte, error) {
	sid := s.ID()
	st := srv.cfg.Store
	switch rpc.Operation.Local {
	case "get", "get-config":
		var p getParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		return srv.get(ctx, s, rpc, &p)
	case "edit-config":
		var p editParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		return nil, srv.editConfig(s, rpc, &p)
	case "copy-config":
		var p copyParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		return nil, srv.copyConfig(s, rpc, &p)
	case "delete-config":
		var p lockParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		return nil, srv.deleteConfig(s, &p)
	case "lock", "unlock":
		var p lockParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		ds, err := p.Target.name()
		if err != nil {
			return nil, err
		}
		if rpc.Operation.Local == "lock" {
			if err := st.Lock(ds, sid); err != nil {
				return nil, err
			}
			s.OnClose(func() { st.SessionEnded(sid) })
			return nil, nil
		}
		return nil, st.Unlock(ds, sid)
	case "close-session":
		_ = s.Close()
		return nil, nil
	case "kill-session":
		var p killParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(p.SessionID), 10, 32)
		if err != nil || id == 0 {
			return nil, opError("protocol", "invalid-value", "kill-session needs a session-id", map[string]string{"bad-element": "session-id"})
		}
		if uint32(id) == sid {
			return nil, opError("protocol", "invalid-value", "kill-session cannot kill the session that asks (use close-session)", nil)
		}
		if err := srv.killSession(sid, uint32(id)); err != nil {
			return nil, opError("protocol", "invalid-value", "no session "+p.SessionID, nil)
		}
		return nil, nil
	case "commit":
		var p commitParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		if len(p.Comment) > maxCommentLen {
			return nil, opError("application", "invalid-value", "the commit comment is longer than "+strconv.Itoa(maxCommentLen)+" bytes", map[string]string{"bad-element": "comment"})
		}
		opt := datastore.CommitOptions{Session: sid, User: s.User(), Comment: p.Comment, Confirmed: p.Confirmed != nil, Persist: p.Persist, PersistID: p.PersistID}
		if p.ConfirmTimeout != "" {
			secs, err := strconv.ParseUint(strings.TrimSpace(p.ConfirmTimeout), 10, 32)
			if err != nil || secs == 0 {
				return nil, opError("protocol", "invalid-value", "confirm-timeout must be a number of seconds from 1", map[string]string{"bad-element": "confirm-timeout"})
			}
			opt.Timeout = time.Duration(secs) * time.Second
		}
		if opt.Confirmed && opt.Persist == "" {
			// RFC 6241 §8.4.1: the session's end cancels it.
			s.OnClose(func() { st.SessionEnded(sid) })
		}
		return nil, st.Commit(opt)
	case "cancel-commit":
		var p commitParams
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		return nil, st.CancelCommit(sid, p.PersistID)
	case "discard-changes":
		return nil, st.Discard(sid)
	case "validate":
		var p struct {
			Source *datastoreRef `xml:"source"`
		}
		if err := rpc.Decode(&p); err != nil {
			return nil, malformed(err)
		}
		p.Source = source(p.Source)
		if err := p.Source.one(); err != nil {
			return nil, err
		}
		if p.Source.Config != nil {
			d := &generated.Device{}
			if err := srv.applyConfig(nil, srv.cfg.Schema.RootNode(d), p.Source.Config, xmlcodec.OpMerge); err != nil {
				return nil, err
			}
			return nil, srv.validator().Validate(d)
		}
		ds, err := p.Source.name()
		if err != nil {
			return nil, err
		}
		switch ds {
		case datastore.Running:
			var err error
			st.View(func(d *generated.Device) { err = srv.validator().Validate(d) })
			return nil, err
		case datastore.Startup:
			d, err := srv.startupTree()
			if err != nil {
				return nil, err
			}
			return nil, srv.validator().Validate(d)
		}
		return nil, st.Validate()
	}
	return nil, unsupported(rpc.Operation)
}

func malformed(err error) error {
	return opError("rpc", "malformed-message", err.Error(), nil)
}

// get answers get (config and state) and get-config. It reads an
// immutable snapshot of the datastore (datastore.Store.Snapshot) and holds
// no lock while it filters and encodes: a slow filter delays nobody else.
// Filters see the tree as the session's role may: without the
// right to secrets, secret leaves do not exist for them.
func (srv *Server) get(ctx context.Context, s *transport.Session, rpc *transport.RPC, p *getParams) ([]byte, error) {
	withState := rpc.Operation.Local == "get"
	ds := datastore.Running
	if !withState {
		var err error
		if ds, err = source(p.Source).name(); err != nil {
			return nil, err
		}
	}
	secrets := s.Role() == RoleAdmin
	opts := xmlcodec.EncodeOptions{Config: !withState, Secrets: secrets}
	var xpathRead validate.ReadFunc
	if srv.nacm.Load() != nil {
		// Configured rules decide node by node, secret leaves included
		// (RFC 8341 §3.4.5: read access, denied nodes silently left out),
		// and the filters see only what the rules let the session read
		// (§3.2.4): a denied node matches no content match node and no
		// xpath predicate.
		opts.Secrets, opts.Read = true, srv.readFilter(s)
		xpathRead = srv.readFilter(s)
	}
	switch p.WithDefaults {
	case "", "explicit":
	case "report-all", "report-all-tagged", "trim":
		opts.WithDefaults = xmlcodec.DefaultsMode(p.WithDefaults)
	default:
		return nil, opError("application", "invalid-value", "with-defaults "+p.WithDefaults+" is not supported", map[string]string{"bad-element": "with-defaults"})
	}
	if p.Filter != nil {
		switch p.Filter.Type {
		case "", "subtree":
			f, err := xmlcodec.ParseFilter(bytes.NewReader(wrap("filter", p.Filter.XML)))
			if err != nil {
				return nil, err
			}
			opts.Filter = f
		case "xpath":
			if p.Filter.Select == "" {
				return nil, opError("protocol", "missing-attribute", "an xpath filter needs a select attribute", map[string]string{"bad-attribute": "select", "bad-element": "filter"})
			}
		default:
			return nil, opError("protocol", "bad-attribute", "filter type "+p.Filter.Type+" is not one of subtree, xpath", map[string]string{"bad-attribute": "type", "bad-element": "filter"})
		}
	}
	var state *generated.Device
	if withState && srv.cfg.State != nil {
		req := StateRequest{Secrets: secrets, Wants: wantsAll}
		if opts.Filter != nil {
			req.Wants = subtreeWants(opts.Filter)
		}
		state = srv.cfg.State(req)
	}
	if withState && (srv.nacm.Load() != nil || s.Role() == RoleAdmin) {
		// /nacm is default-deny-all (RFC 8341 §3.5): without
		// configured rules, which decide node by node, only the admin
		// role reads its counters.
		state = srv.nacmState(state)
	}
	var tree *generated.Device
	if ds == datastore.Startup {
		d, err := srv.startupTree()
		if err != nil {
			return nil, err
		}
		tree = d
	} else {
		tree = overlay(srv.cfg.Store.Snapshot(ds), state)
	}
	if p.Filter != nil && p.Filter.Type == "xpath" {
		var err error
		ns := namespaces(rpc.Attrs, p.Attrs, p.Filter.Attrs)
		if opts.Filter, err = srv.xpathFilter(ctx, s, tree, p.Filter.Select, ns, secrets, xpathRead); err != nil {
			return nil, err
		}
	}
	b, err := srv.codec.Append([]byte("<data>"), tree, opts)
	if err != nil {
		return nil, err
	}
	if withState {
		b = append(b, srv.monitoring(opts.Filter)...)
	}
	return append(b, "</data>"...), nil
}

// namespaces returns the prefixes the namespace declarations of nested
// start tags bind (attrs of the outermost first; an inner declaration
// hides an outer one), as the resolver of an xpath filter: its context's
// namespace declarations are those in scope on the <filter> element (RFC
// 6241 §8.9.1). xml is always bound (Namespaces in XML 1.0 §3).
func namespaces(attrs ...[]xml.Attr) func(prefix string) (string, bool) {
	m := map[string]string{"xml": "http://www.w3.org/XML/1998/namespace"}
	for _, as := range attrs {
		for _, a := range as {
			if a.Name.Space == "xmlns" {
				m[a.Name.Local] = a.Value
			}
		}
	}
	return func(prefix string) (string, bool) {
		uri, ok := m[prefix]
		return uri, ok && uri != ""
	}
}

func wrap(name string, inner []byte) []byte {
	out := make([]byte, 0, len(inner)+2*len(name)+5)
	out = append(out, '<')
	out = append(out, name...)
	out = append(out, '>')
	out = append(out, inner...)
	out = append(out, "</"...)
	out = append(out, name...)
	return append(out, '>')
}

// editConfig implements edit-config on the candidate (RFC 6241 §7.2).
// error-option rollback-on-error and stop-on-error both leave the
// candidate untouched on error (the edit is applied to a copy);
// continue-on-error is refused. test-then-set (the default) and
// test-only check what the payload gets wrong, not the references
// between nodes, which validate and commit check (checkWritten); set
// checks nothing.
func (srv *Server) editConfig(s *transport.Session, rpc *transport.RPC, p *editParams) error {
	ds, err := p.Target.name()
	if err != nil {
		return err
	}
	if ds != datastore.Candidate {
		return opError("protocol", "operation-not-supported", "edit-config targets the candidate: edit it, then commit (running is written only by commit)", map[string]string{"bad-element": "target"})
	}
	defOp := xmlcodec.OpMerge
	switch p.DefaultOperation {
	case "", "merge":
	case "replace", "none":
		defOp = xmlcodec.Operation(p.DefaultOperation)
	default:
		return opError("protocol", "invalid-value", "default-operation must be merge, replace or none", map[string]string{"bad-element": "default-operation"})
	}
	switch p.ErrorOption {
	case "", "stop-on-error", "rollback-on-error":
	default:
		return opError("protocol", "operation-not-supported", "error-option "+p.ErrorOption+" is not supported: edits are all or nothing", map[string]string{"bad-element": "error-option"})
	}
	testOnly := false
	switch p.TestOption {
	case "", "test-then-set", "set":
	case "test-only":
		testOnly = true
	default:
		return opError("protocol", "invalid-value", "test-option must be test-then-set, set or test-only", map[string]string{"bad-element": "test-option"})
	}
	if p.Config == nil {
		return opError("protocol", "missing-element", "edit-config needs a config element", map[string]string{"bad-element": "config"})
	}
	apply := srv.applyEdits(s, p.Config, defOp, p.TestOption != "set")
	if testOnly {
		// The test of test-then-set, without the set.
		d := srv.cfg.Store.Candidate()
		return apply(srv.cfg.Schema.RootNode(d))
	}
	return srv.cfg.Store.Edit(s.ID(), apply)
}

// applyEdits returns the function that decodes the <config> element c
// and applies it to a tree with default operation defOp and, when check
// is set (test-then-set, the default of RFC 6241 §7.2, and test-only),
// refuses an edit whose values do not fit their types (checkWritten).
// The rest of the validation waits for validate or commit (RFC 7950
// §8.3.3), so that a VPN may arrive before the template it names.
func (srv *Server) applyEdits(s *transport.Session, c *configContent, defOp xmlcodec.Operation, check bool) func(root schema.Node) error {
	return func(root schema.Node) error {
		edits, err := srv.decodeConfig(c)
		if err != nil {
			return err
		}
		if s != nil {
			if err := srv.checkWrite(s, root, edits, defOp); err != nil {
				return err
			}
		}
		if err := xmlcodec.ApplyNode(srv.cfg.Schema, root, edits, defOp); err != nil {
			return err
		}
		if !check {
			return nil
		}
		return srv.checkWritten(edits, defOp)
	}
}

// checkWritten checks the type of every value that edits write with
// default operation defOp — leaves and leaf-list values merged, replaced
// or created, and the keys of the list entries they create — and returns
// the type errors (validate.Errors, as validate reports them), or nil.
// These are the errors test-then-set refuses an edit of the candidate
// for: the value of a leaf outside its type (range, length, pattern; RFC
// 7950 §8.3.1, payload parsing, as the codec's own type errors).
// Constraints between nodes — leafref, must, when, mandatory, unique,
// min- and max-elements, secgw's cross references — hold for the
// datastore as a whole, and on the candidate "the constraint enforcement
// is delayed until a <commit> or <validate> operation takes place" (RFC
// 7950 §8.3.3): an operator may build a configuration in any order, over
// several edit-configs. A type depends on the value alone, so checking
// what the edit writes costs the edit, not the candidate.
func (srv *Server) checkWritten(edits []xmlcodec.Edit, defOp xmlcodec.Operation) error {
	v := srv.validator()
	var errs validate.Errors
	var seen map[string]bool
	check := func(p schema.DataPath, val string) {
		e := v.CheckLeaf(p, val)
		if e == nil {
			return
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		if k := e.Path + "\x00" + val; !seen[k] {
			seen[k] = true
			errs = append(errs, e)
		}
	}
	for _, e := range edits {
		op := e.Op
		if op == "" {
			op = defOp
		}
		if op != xmlcodec.OpMerge && op != xmlcodec.OpReplace && op != xmlcodec.OpCreate || len(e.Path) == 0 {
			continue
		}
		last := e.Path[len(e.Path)-1]
		if last.KeyName != "" {
			check(e.Path.Child(schema.Elem{Name: last.KeyName}), last.Key)
			continue
		}
		check(e.Path, e.Value)
	}
	if errs == nil {
		return nil
	}
	return errs
}

// applyConfig decodes a <config> element and applies it to root; s,
// when not nil, is the session whose write access is checked.
func (srv *Server) applyConfig(s *transport.Session, root schema.Node, c *configContent, defOp xmlcodec.Operation) error {
	return srv.applyEdits(s, c, defOp, false)(root)
}

// decodeConfig decodes a <config> element into its edits.
func (srv *Server) decodeConfig(c *configContent) ([]xmlcodec.Edit, error) {
	if c.err != nil {
		return nil, c.err
	}
	edits, err := srv.codec.DecodeElements(c.els, nil, xmlcodec.DecodeOptions{})
	if err != nil {
		return nil, err
	}
	if err := hashPasswords(edits); err != nil {
		return nil, err
	}
	return edits, nil
}

// copyConfig supports copying an inline config or running into the
// candidate, and candidate to running (a commit).
func (srv *Server) copyConfig(s *transport.Session, rpc *transport.RPC, p *copyParams) error {
	target, err := p.Target.name()
	if err != nil {
		return err
	}
	st := srv.cfg.Store
	p.Source = source(p.Source)
	if err := p.Source.one(); err != nil {
		return err
	}
	if p.Source.Config != nil {
		if target != datastore.Candidate {
			return opError("protocol", "operation-not-supported", "copy-config of an inline config targets the candidate", nil)
		}
		// Replacing the whole candidate deletes what the config leaves
		// out: only a session that may write every node may do it.
		if err := srv.checkWriteAll(s); err != nil {
			return err
		}
		return st.Edit(s.ID(), func(root schema.Node) error {
			return srv.applyConfig(s, root, p.Source.Config, xmlcodec.OpReplace)
		})
	}
	source, err := p.Source.name()
	if err != nil {
		return err
	}
	switch {
	case source == datastore.Running && target == datastore.Candidate:
		return st.Discard(s.ID())
	case source == datastore.Candidate && target == datastore.Running:
		return st.Commit(datastore.CommitOptions{Session: s.ID(), User: s.User(), Comment: "copy-config"})
	case source == datastore.Running && target == datastore.Startup:
		if err := st.SaveStartup(s.ID()); err != nil {
			return err
		}
		srv.startupChanged(s)
		return nil
	case source == datastore.Startup && target == datastore.Candidate:
		return st.LoadStartup(s.ID())
	case target == datastore.Startup:
		return opError("protocol", "operation-not-supported", "copy-config to startup copies running: commit, then copy running to startup", nil)
	case source == datastore.Startup:
		return opError("protocol", "operation-not-supported", "copy-config from startup goes to the candidate: copy it there, then commit", nil)
	}
	return opError("protocol", "operation-not-supported", "copy-config from "+string(source)+" to "+string(target)+" is not supported", nil)
}

// getSchema answers get-schema (RFC 6022 §3.1) with the YANG text.
func (srv *Server) getSchema(rpc *transport.RPC) ([]byte, error) {
	var p struct {
		Identifier string `xml:"identifier"`
		Version    string `xml:"version"`
		Format     string `xml:"format"`
	}
	if err := rpc.Decode(&p); err != nil {
		return nil, malformed(err)
	}
	if f := strings.TrimSpace(p.Format); f != "" && !strings.HasSuffix(f, "yang") {
		return nil, opError("application", "invalid-value", "only the yang format is available", map[string]string{"bad-element": "format"})
	}
	for _, src := range srv.cfg.Schema.Sources() {
		if src.Name == strings.TrimSpace(p.Identifier) && (p.Version == "" || p.Version == src.Revision) {
			var b bytes.Buffer
			b.WriteString(`<data xmlns="` + NSMonitoring + `">`)
			_ = xml.EscapeText(&b, []byte(src.Text))
			b.WriteString("</data>")
			return b.Bytes(), nil
		}
	}
	return nil, opError("protocol", "invalid-value", "no schema "+p.Identifier+" "+p.Version, map[string]string{"bad-element": "identifier"})
}

// rollback loads a kept commit into the candidate (secgw-config rollback).
func (srv *Server) rollback(s *transport.Session, rpc *transport.RPC) error {
	var p struct {
		ID string `xml:"commit-id"`
	}
	if err := rpc.Decode(&p); err != nil {
		return malformed(err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(p.ID), 10, 64)
	if err != nil {
		return opError("application", "invalid-value", "commit-id must be a commit number", map[string]string{"bad-element": "commit-id"})
	}
	return srv.cfg.Store.Rollback(s.ID(), id)
}
