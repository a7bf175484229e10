package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openconfig/goyang/pkg/yang"
	"golang.org/x/term"

	"secgw/internal/schema"
)

// Interactive runs the shell on a terminal: line editing and history
// from golang.org/x/term, Tab completing the word being typed (listing
// the choices when there are several), '?' printing help for it. rw is
// the terminal in raw mode; history, when not nil, keeps the lines.
// It returns at end of input or on exit.
func (c *CLI) Interactive(rw io.ReadWriter, history term.History) error {
	// x/term ends ReadLine on Ctrl-C; a shell only drops the line.
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{ctrlCReader{rw}, rw}, c.Prompt())
	if history != nil {
		t.History = history
	}
	c.out = t
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		switch key {
		case keyInterrupt:
			fmt.Fprintf(t, "%s%s^C\n", c.Prompt(), line)
			return "", 0, true
		case '\t':
			nl, np, cands := c.Complete(line, pos)
			if cands != nil {
				fmt.Fprintf(t, "%s%s\n%s", c.Prompt(), line, formatHelp(cands))
			}
			return nl, np, true
		case '?':
			if strings.Count(line[:pos], `"`)%2 == 1 {
				return "", 0, false // a literal '?' inside quotes
			}
			// The terminal's lock is not held during this call: Write
			// clears the line being edited, prints, and redraws it.
			fmt.Fprintf(t, "%s%s?\n%s", c.Prompt(), line, c.Help(line[:pos]))
			return line, pos, true
		}
		return "", 0, false
	}
	for {
		t.SetPrompt(c.Prompt())
		line, err := t.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := c.Run(line); err != nil {
			if errors.Is(err, ErrExit) {
				return nil
			}
			fmt.Fprintln(t, ErrorText(err))
		}
	}
}

// keyInterrupt is the key ctrlCReader turns Ctrl-C into: a control
// character x/term passes to AutoCompleteCallback (Ctrl-\, FS).
const keyInterrupt = 0x1c

// ctrlCReader reads r with Ctrl-C (ETX) turned into keyInterrupt.
type ctrlCReader struct{ r io.Reader }

// Read reads from the terminal, translating Ctrl-C.
func (cr ctrlCReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	for i := range p[:n] {
		if p[i] == 0x03 {
			p[i] = keyInterrupt
		}
	}
	return n, err
}

// End ends the session's configuration mode, if any: uncommitted changes
// of this session are discarded, since the candidate is shared and would
// otherwise go with the next commit of any session, and its locks
// released. It reports whether it discarded something. A confirmed
// commit still pending is not confirmed: secgwd rolls it back when the
// session ends (RFC 6241 §8.4.1); PendingConfirm says so.
func (c *CLI) End() (bool, error) {
	if !c.config {
		return false, nil
	}
	dirty := c.dirty
	if dirty {
		if err := c.be.Discard(); err != nil {
			return false, err
		}
	}
	if err := c.leaveConfig(); err != nil {
		return dirty, err
	}
	return dirty, nil
}

// PendingConfirm reports whether a confirmed commit of this session
// waits for its confirmation: ending the session rolls it back.
func (c *CLI) PendingConfirm() bool {
	return c.confirmPending() && time.Now().Before(c.confirmUntil)
}

// ScriptError is the first line of a script that failed: the script
// stopped there.
type ScriptError struct {
	Line int // 1-based
	Err  error
	// Dry is set when the dry run found the line: no line ran.
	Dry bool
}

// Error names the line and what went wrong, as the shell prints it.
func (e *ScriptError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, ErrorText(e.Err)) }

// Unwrap returns the line's error.
func (e *ScriptError) Unwrap() error { return e.Err }

// Script runs the lines of r (a file, a pipe) as typed, and stops at the
// first line that fails, returning a *ScriptError. The lines run twice:
// first against a dryBackend, which reads from secgwd but changes
// nothing, so that a line the CLI refuses (an unknown word, a bad value,
// a command out of place) stops the script before any line ran, earlier
// commits included; then for real, where a line secgwd refuses (a
// commit that does not validate, a lock held by another session) stops
// it there: the lines after it do not run, and the caller's End
// discards the uncommitted changes. The whole input is read first. The
// lines may be the text 'show config' prints: a line naming a node
// enters it, ".." goes back up.
func (c *CLI) Script(r io.Reader) error {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("cli: reading the script after line %d: %w", len(lines), err)
	}
	dry := New(c.s, dryBackend{c.be}, io.Discard)
	dry.dry, dry.config, dry.ctx = true, c.config, c.ctx
	if err := dry.runLines(lines); err != nil {
		var serr *ScriptError
		if errors.As(err, &serr) {
			serr.Dry = true
		}
		return err
	}
	return c.runLines(lines)
}

// runLines runs lines until exit or the first failure.
func (c *CLI) runLines(lines []string) error {
	for i, l := range lines {
		if err := c.Run(l); err != nil {
			if errors.Is(err, ErrExit) {
				return nil
			}
			return &ScriptError{Line: i + 1, Err: err}
		}
	}
	return nil
}

// dryBackend is the backend of a script's dry run: reads go to secgwd,
// so that lines that enter nodes or list values see the configuration;
// every change, lock and RPC succeeds without reaching it.
type dryBackend struct{ Backend }

// EditConfig changes nothing.
func (dryBackend) EditConfig([]byte) error { return nil }

// Commit commits nothing.
func (dryBackend) Commit(CommitOptions) error { return nil }

// Validate says the unchanged candidate is valid.
func (dryBackend) Validate() error { return nil }

// Discard discards nothing.
func (dryBackend) Discard() error { return nil }

// Lock locks nothing.
func (dryBackend) Lock(string) error { return nil }

// Unlock unlocks nothing.
func (dryBackend) Unlock(string) error { return nil }

// Call runs no RPC, and returns no output.
func (dryBackend) Call([]byte) ([]byte, error) { return nil, nil }

// Close leaves the session to its owner.
func (dryBackend) Close() error { return nil }

// HasSecret reports whether a command line names a leaf that holds a
// secret (secgw-types:secret: a PPK or HA secret...), so that its value
// stays out of files such as the history.
func (c *CLI) HasSecret(line string) bool {
	if c.secretWords == nil {
		c.secretWords = map[string]bool{}
		seen := map[*schema.Binding]bool{}
		var walk func(b *schema.Binding)
		walk = func(b *schema.Binding) {
			if seen[b] {
				return
			}
			seen[b] = true
			for i := range b.Fields {
				f := &b.Fields[i]
				if f.Secret && f.Config {
					c.secretWords[f.Name] = true
				}
				if f.Elem != nil {
					walk(f.Elem)
				}
			}
		}
		walk(c.s.RootBinding())
		// And the secret leaves of RPC inputs (set-password's password).
		var input func(e *yang.Entry)
		input = func(e *yang.Entry) {
			for _, ch := range e.Dir {
				if schema.IsSecret(ch) {
					c.secretWords[ch.Name] = true
				}
				input(ch)
			}
		}
		for _, r := range c.s.RPCs {
			if r.RPC != nil && r.RPC.Input != nil {
				input(r.RPC.Input)
			}
		}
	}
	for _, w := range Fields(line) {
		if c.secretWords[w] {
			return true
		}
	}
	return false
}

// ErrorText is how the shell prints an error: without the package
// prefix, "Error: " first, one line per server error.
func ErrorText(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "cli: ")
	}
	return "Error: " + strings.Join(lines, "\n       ")
}

// FileHistory is a term.History kept in a file, one line per entry, so
// that history survives the session. Entries are appended to the file as
// they come; the file is read once, at open, and its last Max lines kept.
type FileHistory struct {
	mu      sync.Mutex
	entries []string // oldest first
	f       *os.File
	// Max is the number of entries kept in memory (default 1000).
	Max int
	// Private, when set, says which lines stay out of the file (kept in
	// memory only): lines that carry a secret.
	Private func(line string) bool
}

// OpenHistory opens (creating, mode 0600) the history file path.
func OpenHistory(path string) (*FileHistory, error) {
	h := &FileHistory{Max: 1000}
	if b, err := os.ReadFile(path); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" {
				h.entries = append(h.entries, l)
			}
		}
		if len(h.entries) > h.Max {
			h.entries = h.entries[len(h.entries)-h.Max:]
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cli: history: %w", err)
	}
	h.f = f
	return h, nil
}

// Add appends an entry (term.History). Repeats of the last entry and
// blank lines are not kept.
func (h *FileHistory) Add(entry string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.TrimSpace(entry) == "" || len(h.entries) > 0 && h.entries[len(h.entries)-1] == entry {
		return
	}
	h.entries = append(h.entries, entry)
	if len(h.entries) > h.Max {
		h.entries = h.entries[len(h.entries)-h.Max:]
	}
	if h.f != nil && (h.Private == nil || !h.Private(entry)) {
		_, _ = h.f.WriteString(entry + "\n")
	}
}

// Len returns the number of entries (term.History).
func (h *FileHistory) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// At returns entry idx, 0 being the most recent (term.History).
func (h *FileHistory) At(idx int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entries[len(h.entries)-1-idx]
}

// Close closes the file.
func (h *FileHistory) Close() error {
	if h.f == nil {
		return nil
	}
	return h.f.Close()
}
