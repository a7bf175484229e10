package cli

import (
	"bytes"
	"strings"
	"testing"
)

func words(cs []Cand) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Word)
	}
	return strings.Join(out, " ")
}

// TestCompletion checks Tab: a unique word completes with a blank after
// it, several extend to their common prefix, the schema supplies node
// names, the RPC input supplies the words of 'cmd ike'.
func TestCompletion(t *testing.T) {
	s := loadSchema(t)
	c := New(s, newMem(t, s, nil, nil), &bytes.Buffer{})
	cases := []struct{ line, want string }{
		{"sh", "show "},
		{"show con", "show config "},
		{"show config / vrf main ike vp", "show config / vrf main ike vpn "},
		{"show config / vrf main ike global-options retransmit-t", "show config / vrf main ike global-options retransmit-t"}, // timeout, tries
		{"show config / vrf main ike global-options retransmit-tr", "show config / vrf main ike global-options retransmit-tries "},
		{"show state / vrf main ike ike-sa 1 child-", "show state / vrf main ike ike-sa 1 child-sa "},
		{"show ike ike-sa det", "show ike ike-sa details "},
		{"cmd ike ini", "cmd ike initiate "},
		{"cmd ike initiate chi", "cmd ike initiate child-sa "},
		{"cmd ike initiate child-sa sec", "cmd ike initiate child-sa security-policy "},
		{"flush ike ike-sa uni", "flush ike ike-sa unique-id "},
		{"ed", "edit "},
		{"edit r", "edit running "},
		{`show config "/ vrf`, `show config "/ vrf`}, // inside quotes: nothing
	}
	for _, cs := range cases {
		got, pos, _ := c.Complete(cs.line, len(cs.line))
		if got != cs.want || pos != len(cs.want) {
			t.Errorf("%q: got %q (pos %d), want %q", cs.line, got, pos, cs.want)
		}
	}
	// In the middle of a line, the rest stays after the cursor.
	got, pos, _ := c.Complete("sh ike ike-sa", 2)
	if got != "show  ike ike-sa" || pos != 5 {
		t.Errorf("mid-line: %q %d", got, pos)
	}
	// Several choices: the candidates come back for the shell to list.
	_, _, cands := c.Complete("show ", 5)
	if words(cands) != "config state ike commits" {
		t.Errorf("after show: %q", words(cands))
	}
	// Configuration mode: the commands, then the schema from the context.
	mustRun(t, c, &bytes.Buffer{}, "edit running")
	c.out = &bytes.Buffer{}
	if w := words(c.Candidates(nil)); !strings.Contains(w, "commit") || !strings.Contains(w, "vrf") || strings.Contains(w, "edit") {
		t.Errorf("config mode words: %s", w)
	}
	if err := c.Run("vrf main ike"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Complete("glo", 3); got != "global-options " {
		t.Errorf("relative: %q", got)
	}
	if got, _, _ := c.Complete("ipsec-policy-template t dpd-action cl", 37); got != "ipsec-policy-template t dpd-action clear " {
		t.Errorf("enum value: %q", got)
	}
	// State nodes are not configuration: no completion in a config line.
	if _, _, cands := c.Complete("ike-s", 5); cands != nil {
		t.Errorf("state node offered in configuration: %v", words(cands))
	}
}

// TestKeyCompletion completes list keys with the entries the server has:
// configuration from running (or the candidate in configuration mode),
// state from <get>.
func TestKeyCompletion(t *testing.T) {
	s := loadSchema(t)
	var config, state []byte
	for _, gc := range loadGolden(t) {
		switch gc.name {
		case "config-ppk.txt":
			config = gc.config
		case "state-ppk.txt":
			state = gc.state
		}
	}
	c := New(s, newMem(t, s, config, state), &bytes.Buffer{})
	if got, _, _ := c.Complete("show config / vrf main ike vpn v", 32); got != "show config / vrf main ike vpn vpn0 " {
		t.Errorf("vpn name: %q", got)
	}
	_, _, cands := c.Complete("show state / vrf main ike ike-sa ", 33)
	if words(cands) != "<unique-id> 1" {
		t.Errorf("ike-sa ids: %q", words(cands))
	}
	mustRun(t, c, &bytes.Buffer{}, "edit running")
	c.out = &bytes.Buffer{}
	mustRun(t, c, c.out.(*bytes.Buffer), "/ vrf main ike vpn vpn1")
	_, _, cands = c.Complete("/ vrf main ike vpn ", 19)
	if words(cands) != "<name> vpn0 vpn1" {
		t.Errorf("vpn names in the candidate: %q", words(cands))
	}
}

// TestHelp checks '?': node names with their descriptions, list keys,
// types with ranges, units and defaults, all from the YANG modules.
func TestHelp(t *testing.T) {
	s := loadSchema(t)
	var buf bytes.Buffer
	c := New(s, newMem(t, s, nil, nil), &buf)
	help := c.Help("show config / vrf main ike ")
	for _, want := range []string{"  vpn ", "[name] ", "  global-options ", "  ppk "} {
		if !strings.Contains(help, want) {
			t.Errorf("help of ike lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "ike-sa") {
		t.Errorf("show config offers state nodes:\n%s", help)
	}
	if !strings.Contains(c.Help("show state / vrf main ike "), "  ike-sa ") {
		t.Error("show state does not offer ike-sa")
	}
	if h := c.Help("show config / vrf main ike vpn "); !strings.HasPrefix(h, "  <name>  name: ") {
		t.Errorf("list key help: %q", h)
	}
	mustRun(t, c, &buf, "edit running")
	h := c.Help("/ vrf main ike global-options retransmit-tries ")
	if !strings.Contains(h, "<uint8 0..100>") || !strings.Contains(h, "default 5") {
		t.Errorf("leaf value help: %q", h)
	}
	h = c.Help("/ vrf main ike global-options retransmit-timeout ")
	if !strings.Contains(h, "0.000..60.000") || !strings.Contains(h, "default 4.0") {
		t.Errorf("decimal help: %q", h)
	}
	h = c.Help("/ vrf main ike ipsec-policy-template t start-action ")
	for _, w := range []string{"  none", "  trap", "  start"} {
		if !strings.Contains(h, w) {
			t.Errorf("enum help lacks %q: %q", w, h)
		}
	}
	h = c.Help("cmd ike initiate ")
	for _, w := range []string{"  child-sa ", "  ike-sa ", "  vrf "} {
		if !strings.Contains(h, w) {
			t.Errorf("rpc help lacks %q: %q", w, h)
		}
	}
	// A partial word narrows the help; '?' as the last word prints it.
	if h := c.Help("show c"); h != formatHelp(filterCands(c.Candidates([]string{"show"}), "c")) || !strings.Contains(h, "config") || strings.Contains(h, "state") {
		t.Errorf("partial help: %q", h)
	}
	out := mustRun(t, c, &buf, "show ?")
	if !strings.Contains(out, "  config ") || !strings.Contains(out, "  ike ") {
		t.Errorf("show ?: %q", out)
	}
	if h := c.Help("validate "); h != "  <cr>\n" {
		t.Errorf("end of command: %q", h)
	}
	// The words of commit, each once.
	for line, want := range map[string]string{
		"commit ":              "check confirmed comment",
		"commit confirmed ":    "<seconds> comment",
		"commit confirmed 30 ": "comment",
		"commit comment ":      "<text>",
		"commit comment x ":    "confirmed",
		"commit check ":        "",
		"rollback ":            "<commit-id>",
		"show config ":         "nodefault diff",
		"show commits ":        "",
		"show config diff ":    "",
	} {
		if got := words(c.Candidates(Fields(line))); !strings.HasPrefix(got, want) || want == "" && got != "" {
			t.Errorf("%q: candidates %q, want %q first", line, got, want)
		}
	}
}
