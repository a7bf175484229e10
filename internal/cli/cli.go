package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// ErrExit is returned by Run for a command that ends the shell.
var ErrExit = errors.New("cli: exit")

// CLI runs command lines, in operational or configuration mode, against
// a Backend. It is not safe for concurrent use: a shell owns one.
type CLI struct {
	s   *schema.Schema
	be  Backend
	out io.Writer
	ed  *Editor
	lay *layout
	// codec reads the server's data replies; built on first use.
	codec *xmlcodec.Codec
	// Name starts the prompt ("secgw>").
	Name string

	config bool            // in configuration mode ('edit running')
	ctx    schema.DataPath // configuration mode: the current node
	// invalid is set when the candidate does not validate: the prompt
	// then ends in "#!", as in the vsr guide, where the marker appears
	// after "esp-proposal 1 enc-alg aes128-cbc" (no auth-alg yet) and
	// goes away once the line that completes the proposal is typed,
	// before any commit.
	invalid bool
	// dirty is set when this session changed the candidate since its
	// last commit or discard.
	dirty bool
	// locked lists the datastores whose lock configuration mode holds,
	// in the order taken (workflow.go).
	locked []string
	// confirmUntil, when set, is when secgwd rolls back this session's
	// confirmed commit unless a commit confirms it first.
	confirmUntil time.Time
	// dry is set on the CLI of a script's dry run (Script): it changes
	// nothing, and the candidate it reads is not the one the script
	// builds.
	dry bool

	secretWords map[string]bool // names of secret leaves, built on first use
}

// New returns a CLI in operational mode writing to out.
func New(s *schema.Schema, be Backend, out io.Writer) *CLI {
	return &CLI{s: s, be: be, out: out, ed: &Editor{S: s}, lay: newLayout(s), Name: "secgw"}
}

// InConfig reports whether the CLI is in configuration mode.
func (c *CLI) InConfig() bool { return c.config }

// Dirty reports whether this session has uncommitted changes.
func (c *CLI) Dirty() bool { return c.dirty }

// Prompt returns the prompt: "secgw> " in operational mode, "secgw
// running config# " at the top of configuration mode and "secgw running
// vpn hq# " inside a node, with "#!" while the candidate is invalid.
func (c *CLI) Prompt() string {
	if !c.config {
		return c.Name + "> "
	}
	where := "config"
	if n := len(c.ctx); n > 0 {
		where = strings.TrimPrefix(Words(c.ctx[n-1:]), "/ ")
	}
	mark := "#"
	if c.invalid {
		mark = "#!"
	}
	return c.Name + " running " + where + mark + " "
}

// Keep reports whether a top-level data element in namespace ns belongs
// to secgw's modules: the CLI decodes only those.
func Keep(s *schema.Schema) func(ns string) bool {
	nss := map[string]bool{}
	for _, m := range s.Modules {
		if n := m.Namespace(); n != nil {
			nss[n.Name] = true
		}
	}
	return func(ns string) bool { return nss[ns] }
}

// Run runs one command line. Output goes to the CLI's writer; the error,
// if any, is the operator's to read (ErrExit ends the shell).
func (c *CLI) Run(line string) error {
	words := Fields(line)
	if len(words) == 0 || strings.HasPrefix(words[0], "#") {
		return nil
	}
	c.checkConfirm()
	if last := words[len(words)-1]; last == "?" {
		_, err := io.WriteString(c.out, formatHelp(c.Candidates(words[:len(words)-1])))
		return err
	}
	if c.config {
		return c.runConfig(words)
	}
	return c.runOper(words)
}

// operational lists the commands of operational mode, for errors and help.
var operational = []Cand{
	{Word: "show", Help: "Show configuration, state, IKE SAs, uncommitted changes (show config diff) or commits (show commits)"},
	{Word: "cmd", Help: "Run an operational command (cmd ike initiate|rekey|reauth|redirect ...)"},
	{Word: "flush", Help: "Delete SAs (flush ike ike-sa|child-sa ...)"},
	{Word: "debug", Help: "Trace the IKE messages of a peer, VPN or identity (debug ike [vrf NAME] peer ADDRESS|vpn NAME|identity ID [with-keys])"},
	{Word: "no", Help: "Stop a debug filter (no debug ike [vrf NAME] peer ADDRESS|vpn NAME|identity ID)"},
	{Word: "monitor", Help: "Stream the IKE debug traces (monitor ike [vrf NAME] [count N])"},
	{Word: "edit", Help: "Enter configuration mode (edit running): locks the candidate and running until exit"},
	{Word: "discard", Help: "Drop the changes a NETCONF session left in the candidate without locking it (refused while anyone is in configuration mode)"},
	{Word: "exit", Help: "Leave the shell"},
}

// configuration lists the commands configuration mode adds.
var configuration = []Cand{
	{Word: "commit", Help: "Make the candidate running: commit [check] [confirmed [SECONDS]] [comment TEXT]"},
	{Word: "validate", Help: "Validate the candidate configuration (as commit check)"},
	{Word: "compare", Help: "Show the uncommitted changes (as show config diff)"},
	{Word: "rollback", Help: "Load commit ID (see show commits) into the candidate and show what it changes"},
	{Word: "discard", Help: "Drop the uncommitted changes"},
	{Word: "del", Help: "Delete a node, leaf or leaf-list value"},
	{Word: "move", Help: "Move an entry of an ordered-by user list (the access rules): move PATH first|last|before KEY|after KEY"},
	{Word: "..", Help: "Go up one level"},
	{Word: "/", Help: "Go to the top, or start an absolute path"},
	{Word: "exit", Help: "Leave configuration mode"},
}

func (c *CLI) runOper(words []string) error {
	switch words[0] {
	case "show":
		return c.show(words[1:])
	case "cmd":
		return c.cmd(words[1:])
	case "flush":
		if len(words) < 2 || words[1] != "ike" {
			return fmt.Errorf("cli: flush: expected ike, as in: flush ike ike-sa vpn NAME")
		}
		return c.rpc("flush ike", "ike", append([]string{"flush"}, words[2:]...))
	case "debug":
		return c.debugCommand(words[1:], false) // debug.go
	case "no":
		if len(words) < 2 || words[1] != "debug" {
			return fmt.Errorf("cli: no: expected debug, as in: no debug ike peer 198.51.100.1")
		}
		return c.debugCommand(words[2:], true)
	case "monitor":
		return c.monitor(words[1:])
	case "edit":
		if len(words) != 2 || words[1] != "running" {
			return fmt.Errorf("cli: edit takes one word: running (edits go to the candidate until commit)")
		}
		return c.enterConfig()
	case "discard":
		// Configuration mode holds the candidate's lock, so this only
		// drops changes left by a session that edited without it, which
		// keep everyone out of configuration mode (RFC 6241 §7.5: no lock
		// on a modified candidate); secgwd refuses it (in-use) while
		// another session holds the lock.
		if len(words) > 1 {
			return fmt.Errorf("cli: unexpected word %q after discard", words[1])
		}
		if err := c.be.Discard(); err != nil {
			return lockError("candidate", err)
		}
		_, err := io.WriteString(c.out, "The candidate holds no uncommitted changes now.\n")
		return err
	case "exit", "quit", "logout":
		return ErrExit
	case "help":
		_, err := io.WriteString(c.out, formatHelp(operational))
		return err
	}
	return fmt.Errorf("cli: unknown command %q: expected one of show, cmd, flush, debug, no, monitor, edit, discard, exit", words[0])
}

func (c *CLI) runConfig(words []string) error {
	switch words[0] {
	case "show", "cmd", "flush":
		return c.runOper(words)
	case "help":
		_, err := io.WriteString(c.out, formatHelp(append(append([]Cand(nil), configuration...), operational[:3]...)))
		return err
	case "validate", "discard", "..", "compare":
		if len(words) > 1 {
			return fmt.Errorf("cli: unexpected word %q after %s", words[1], words[0])
		}
	case "exit", "quit":
		if len(words) > 2 || len(words) == 2 && words[1] != "discard" {
			return fmt.Errorf("cli: unexpected word %q after %s: expected discard or nothing", words[1], words[0])
		}
	}
	switch words[0] {
	case "commit":
		return c.commitCommand(words[1:])
	case "validate":
		return c.validateCommand()
	case "compare":
		return c.showDiff(nil)
	case "rollback":
		return c.rollbackCommand(words[1:])
	case "discard":
		if err := c.be.Discard(); err != nil {
			return err
		}
		c.dirty = false
		return c.refresh()
	case "exit", "quit":
		if len(words) == 2 && words[1] == "discard" {
			if err := c.be.Discard(); err != nil {
				return err
			}
			c.dirty = false
		}
		if c.dirty {
			return fmt.Errorf("cli: there are uncommitted changes: commit or discard them first (or 'exit discard')")
		}
		if c.confirmPending() {
			return fmt.Errorf("cli: a confirmed commit is pending: 'commit' confirms it; otherwise secgwd rolls it back at %s UTC",
				c.confirmUntil.UTC().Format("15:04:05"))
		}
		return c.leaveConfig()
	case "..":
		if len(c.ctx) > 0 {
			c.ctx = c.ctx[:len(c.ctx)-1]
		}
		return nil
	case "del":
		return c.del(words[1:])
	case "move":
		return c.move(words[1:])
	case "edit":
		return fmt.Errorf("cli: already in configuration mode")
	}
	if len(words) == 1 && (words[0] == "/" || words[0] == "top") {
		c.ctx = nil
		return nil
	}
	return c.set(words)
}

// set runs a configuration line: edit the candidate, and move into the
// node the line names when it sets no leaf. A line that only names a
// node creates it when it is a list entry or a presence container that
// does not exist yet ("vpn new" makes VPN new, as in the vsr); naming a
// container or an existing entry only moves, and leaves the candidate
// as it was (every later edit carries its whole path from the root).
func (c *CLI) set(words []string) error {
	ch, err := c.ed.Parse(c.ctx, words)
	if err != nil {
		return err
	}
	if err := c.checkValues(ch); err != nil {
		return err
	}
	edit := ch.Sets > 0
	if !edit && len(ch.Path) > 0 {
		last := ch.Path[len(ch.Path)-1]
		b, err := c.ed.BindingAt(ch.Path)
		if err != nil {
			return err
		}
		if last.KeyName != "" || isPresence(b.Entry) {
			exists, err := c.exists(ch.Path)
			if err != nil {
				return err
			}
			edit = !exists
		}
	}
	if edit {
		x, err := editConfig(c.s, ch)
		if err != nil {
			return err
		}
		if err := c.be.EditConfig(x); err != nil {
			return err
		}
		c.dirty = true
	}
	if ch.Sets == 0 {
		c.ctx = ch.Path
	}
	if !edit {
		return nil
	}
	return c.refresh()
}

// exists reports whether the node at p is in the candidate.
func (c *CLI) exists(p schema.DataPath) (bool, error) {
	filter, err := subtreeFilter(c.s, &Target{Path: p})
	if err != nil {
		return false, err
	}
	data, err := c.be.GetConfig("candidate", filter, "explicit")
	if err != nil {
		return false, err
	}
	d, err := c.decode(data)
	if err != nil {
		return false, err
	}
	_, ok, err := c.s.Resolve(d, p, false)
	return ok, err
}

// del runs 'del PATH'.
func (c *CLI) del(words []string) error {
	if len(words) == 0 {
		return fmt.Errorf("cli: del needs a path")
	}
	t, err := c.ed.Resolve(c.ctx, words, true)
	if err != nil {
		return err
	}
	var values []string
	if t.Leaf != nil && t.Leaf.Kind == schema.KindLeafList && t.Value == "" {
		if values, err = c.leafListValues(t); err != nil {
			return err
		}
	}
	if c.dry && len(values) == 0 && t.Leaf != nil && t.Leaf.Kind == schema.KindLeafList && t.Value == "" {
		return nil // the values may come from the script's earlier lines
	}
	x, err := deleteConfig(c.s, t, values)
	if err != nil {
		return err
	}
	if err := c.be.EditConfig(x); err != nil {
		return err
	}
	c.dirty = true
	if t.Leaf == nil && isPrefix(t.Path, c.ctx) {
		// The current node, or one above it, is gone: stand where the
		// deleted node was.
		c.ctx = append(schema.DataPath(nil), t.Path[:len(t.Path)-1]...)
	}
	return c.refresh()
}

func isPrefix(p, of schema.DataPath) bool {
	if len(p) > len(of) {
		return false
	}
	for i := range p {
		if p[i] != of[i] {
			return false
		}
	}
	return true
}

// refresh sets the "!" of the prompt from a validation of the candidate.
func (c *CLI) refresh() error {
	err := c.be.Validate()
	var rerr RPCErrors
	if err != nil && !errors.As(err, &rerr) {
		return err // the session failed, not the validation
	}
	c.invalid = err != nil
	return nil
}

func (c *CLI) refreshQuiet() { _ = c.refresh() }

// checkValues checks the values and keys a line sets against the model
// (ranges, lengths, patterns, addresses and prefixes: validate.CheckValue,
// the check secgwd makes at commit), so that a bad value is named when
// it is typed, with the path as typed, rather than at commit.
func (c *CLI) checkValues(ch *Change) error {
	for _, op := range ch.Ops {
		if op.Field != nil {
			if why := validate.CheckValue(op.Field.Entry.Type, op.Value, op.Field.Secret); why != "" {
				return badValue(op.Path, op.Field, op.Value, errors.New(reason(why, op.Value, op.Field.Entry.Type)))
			}
			continue
		}
		n := len(op.Path)
		if n == 0 || op.Path[n-1].KeyName == "" {
			continue
		}
		b, err := c.ed.BindingAt(op.Path[:n-1])
		if err != nil {
			return err
		}
		list := b.Field(op.Path[n-1].Name)
		kf := &list.Elem.Fields[list.KeyIndex]
		if why := validate.CheckValue(kf.Entry.Type, op.Path[n-1].Key, kf.Secret); why != "" {
			return fmt.Errorf("cli: %s %s: bad %s %s: %s", Words(op.Path[:n-1]), list.Name, kf.Name,
				quote(op.Path[n-1].Key), reason(why, op.Path[n-1].Key, kf.Entry.Type))
		}
	}
	return nil
}

// reason words a reason of validate.CheckValue after the value it is
// about: without the value again ("101 is out of range 0..100" is "out
// of range 0..100"), and naming the types a union accepts, which the
// validator's own message leaves out.
func reason(why, value string, yt *yang.YangType) string {
	for _, v := range []string{strconv.Quote(value) + " ", value + " "} {
		if r, ok := strings.CutPrefix(why, v); ok {
			why = strings.TrimPrefix(r, "is ")
			break
		}
	}
	if why == "not a valid value" {
		return "expected " + typeName(yt)
	}
	return why
}
