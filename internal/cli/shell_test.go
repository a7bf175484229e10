package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestInteractive drives the shell as a terminal would: Tab completes,
// '?' prints help and keeps the line, Enter runs it, the prompt follows
// the mode, history recalls the previous line (up arrow).
func TestInteractive(t *testing.T) {
	s := loadSchema(t)
	var state []byte
	for _, gc := range loadGolden(t) {
		if gc.name == "state-showing-sas.txt" {
			state = gc.state
		}
	}
	c := New(s, newMem(t, s, nil, state), io.Discard)
	keys := "sh\tike ike-sa\r" + // Tab completes "show "
		"show ?" + "\x15" + // help, then Ctrl-U clears the line
		"\x1b[A\r" + // up arrow: "show ike ike-sa" again
		"edit running\r" + "/ vrf main ike ppk k id x\r" + "/ vrf main ike ppk k\r" + "exit\r" + "exit discard\r" +
		"half typed\x03" + // Ctrl-C drops the line, not the shell
		"bogus\r" + "exit\r"
	var out bytes.Buffer
	rw := struct {
		io.Reader
		io.Writer
	}{strings.NewReader(keys), &out}
	if err := c.Interactive(rw, nil); err != nil {
		t.Fatal(err)
	}
	// The terminal's cursor moves (ESC [ n D...) are dropped.
	text := regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]").ReplaceAllString(strings.ReplaceAll(out.String(), "\r\n", "\n"), "")
	table := "VPN    Local-Addr Local-ID          Remote-Addr  Remote-ID          State       Child-SAs\n" +
		"vpn-hq 192.0.2.1  localgw.6wind.net 198.51.100.1 remotegw.6wind.net established 1\n"
	for _, want := range []string{
		"show ike ike-sa\n" + table,
		"secgw> show ?\n  config  ",
		"secgw running config# ",
		"secgw running ppk k# ", // entered; the in-memory backend validates everything
		"Error: there are uncommitted changes",
		`Error: unknown command "bogus"`,
		"secgw> half typed^C\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, `"half"`) {
		t.Error("the interrupted line ran")
	}
	if n := strings.Count(text, table); n != 2 {
		t.Errorf("the table printed %d times, want 2 (the second from history)", n)
	}
}

// TestHistoryFile keeps lines across sessions, but not those carrying a
// secret.
func TestHistoryFile(t *testing.T) {
	s := loadSchema(t)
	c := New(s, nil, io.Discard)
	path := filepath.Join(t.TempDir(), "history")
	h, err := OpenHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	h.Private = c.HasSecret
	for _, l := range []string{"show config", "show config", "", "/ vrf main ike ppk k secret 0xdeadbeef", "commit"} {
		h.Add(l)
	}
	if h.Len() != 3 || h.At(0) != "commit" || h.At(1) != "/ vrf main ike ppk k secret 0xdeadbeef" {
		t.Errorf("in memory: %d entries, newest %q", h.Len(), h.At(0))
	}
	h.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "show config\ncommit\n" {
		t.Errorf("file: %q", b)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	h2, err := OpenHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.Len() != 2 || h2.At(0) != "commit" {
		t.Errorf("reopened: %d entries", h2.Len())
	}
}

// TestScriptPaste runs the text 'show config' prints as a script: it
// recreates the configuration; a bad line is named and stops the script
// before any line ran.
func TestScriptPaste(t *testing.T) {
	s := loadSchema(t)
	m := newMem(t, s, nil, nil)
	var out bytes.Buffer
	c := New(s, m, &out)
	script := `edit running
vrf main
    ike
        vpn hq
            description "head quarters \"HQ\""
            vip-request 0.0.0.0
            vip-request ::
            bogus-leaf 1
            ..
        ..
    ..
commit
show config nodefault / vrf main ike vpn hq
`
	err := c.Script(strings.NewReader(script))
	var serr *ScriptError
	if !errors.As(err, &serr) || serr.Line != 8 || !serr.Dry || !strings.HasPrefix(err.Error(), `line 8: Error: unknown word "bogus-leaf" at / vrf main ike vpn hq`) {
		t.Fatalf("script error %v", err)
	}
	// The dry run found it: no line ran, not even edit running.
	if out.Len() != 0 || len(m.commits) != 0 || len(m.locks) != 0 || len(m.requests) != 0 || c.InConfig() {
		t.Errorf("after the bad line: output %q, %d commits, locks %q, %d requests", out.String(), len(m.commits), m.locks, len(m.requests))
	}
	// The same lines without the bad one paste as typed.
	script = strings.Replace(script, "            bogus-leaf 1\n", "", 1)
	if err := c.Script(strings.NewReader(script)); err != nil {
		t.Fatal(err)
	}
	want := "vpn hq\n    description \"head quarters \\\"HQ\\\"\"\n    vip-request 0.0.0.0\n    vip-request ::\n    ..\n"
	if d := diff(out.String(), want); d != "" {
		t.Error(d)
	}
	if got := m.running.Vrf["main"].Ike.Vpn["hq"].GetDescription(); got != `head quarters "HQ"` {
		t.Errorf("description %q", got)
	}
}
