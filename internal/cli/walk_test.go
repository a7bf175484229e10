package cli

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// guideLine is a command line of the vsr guide and its prompt.
type guideLine struct {
	config bool   // typed in configuration mode
	mark   string // "#" or "#!" in configuration mode
	cmd    string
}

func readGuideCommands(t testing.TB) []guideLine {
	t.Helper()
	b, err := os.ReadFile("testdata/guide-commands.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []guideLine
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "vsr> "):
			out = append(out, guideLine{cmd: strings.TrimPrefix(l, "vsr> ")})
		case strings.HasPrefix(l, "vsr running config#! "):
			out = append(out, guideLine{config: true, mark: "#!", cmd: strings.TrimPrefix(l, "vsr running config#! ")})
		case strings.HasPrefix(l, "vsr running config# "):
			out = append(out, guideLine{config: true, mark: "#", cmd: strings.TrimPrefix(l, "vsr running config# ")})
		default:
			t.Fatalf("guide-commands.txt: not a command line: %q", l)
		}
	}
	return out
}

// TestGuideCommandsWalk runs every command line of the vsr guide, in
// order, against secgw's NETCONF server: each works, or fails with a
// "not supported yet" error that says what (the server of this test has
// no engine behind the model's RPCs, so 'cmd ike' and 'flush ike' say
// so). Configuration lines are typed in configuration mode ('edit
// running'); before an operational line the changes are dropped, since
// the guide's examples are not one configuration.
func TestGuideCommandsWalk(t *testing.T) {
	lines := readGuideCommands(t)
	if len(lines) != 101 {
		t.Fatalf("read %d command lines, the guide has 101", len(lines))
	}
	sv := startServer(t, nil)
	c, buf := sv.cli(t)
	var worked, unsupported, config int
	for _, l := range lines {
		if l.config != c.InConfig() {
			cmd := "edit running"
			if !l.config {
				cmd = "exit discard"
			}
			mustRun(t, c, buf, cmd)
		}
		_, err := run(c, buf, l.cmd)
		var ns *NotSupportedError
		switch {
		case err == nil:
			worked++
			if l.config {
				config++
			}
		case errors.As(err, &ns):
			unsupported++
			if !strings.HasPrefix(err.Error(), "cli: not supported yet: ") || len(err.Error()) < 40 {
				t.Errorf("%s: unclear message %q", l.cmd, err)
			}
			t.Logf("%s: %s", l.cmd, ErrorText(err))
		default:
			t.Errorf("%s: %v", l.cmd, err)
		}
	}
	// 75 configuration lines and the 15 show commands work; the 11 'cmd
	// ike' and 'flush ike' lines need the IKE engine behind the RPCs.
	if config != 75 || unsupported != 11 || worked != 90 {
		t.Errorf("worked %d (config %d), not supported %d; want 90 (75), 11", worked, config, unsupported)
	}
}

// TestConcentratorBlocks pastes the configuration blocks of the
// concentrator guide in configuration mode, each at the context the guide
// prints it in: every line works, or names a node secgw has no model for
// as "not supported yet" (the lines inside that node are skipped). The
// blocks secgw models then print back, with 'show config nodefault',
// exactly as the guide prints them.
func TestConcentratorBlocks(t *testing.T) {
	sv := startServer(t, nil)
	c, buf := sv.cli(t)
	mustRun(t, c, buf, "edit running")
	sections := readGolden(t, "testdata/vsecgw-concentrator-blocks.txt")
	if len(sections) != 10 {
		t.Fatalf("%d blocks, the guide has 10", len(sections))
	}
	// After block i, these commands print these lines of the block.
	type check struct {
		cmd        string
		from, to   int // lines of the block, to exclusive (0: to the end)
		skipBlanks bool
	}
	checks := map[int][]check{
		4: {{"show config nodefault / vrf main ike ike-policy-template vpnc_6wind_ike", 0, 11, true},
			{"show config nodefault / vrf main ike ipsec-policy-template vpnc_6wind_esp", 11, 0, false}},
		5: {{"show config nodefault / vrf main ike vpn vpnc_6wind", 0, 0, false}},
		6: {{"show config nodefault / vrf main vrrp", 1, -1, false}},
		7: {{"show config nodefault / vrf main ike ha", 2, 0, false}},
	}
	var unsupported []string
	for i, sec := range sections {
		mustRun(t, c, buf, sec.name)
		lines := strings.Split(strings.TrimRight(sec.body, "\n"), "\n")
		skip := -1
		for _, l := range lines {
			if strings.TrimSpace(l) == "" {
				continue
			}
			indent := len(l) - len(strings.TrimLeft(l, " "))
			if skip >= 0 {
				if indent > skip {
					continue
				}
				skip = -1
			}
			_, err := run(c, buf, l)
			var ns *NotSupportedError
			switch {
			case err == nil:
			case errors.As(err, &ns):
				unsupported = append(unsupported, strings.TrimSpace(l))
				skip = indent
			default:
				t.Errorf("block %d (%s): %q: %v", i, sec.name, l, err)
			}
		}
		for _, ck := range checks[i] {
			to := ck.to
			if to <= 0 {
				to += len(lines)
			}
			want := dedent(lines[ck.from:to], ck.skipBlanks)
			got := mustRun(t, c, buf, ck.cmd)
			if d := diff(got, want); d != "" {
				t.Errorf("%s: %s", ck.cmd, d)
			}
		}
	}
	want := []string{"system", "interface", "interface", "routing", "telegraf", "system"}
	if strings.Join(unsupported, ",") != strings.Join(want, ",") {
		t.Errorf("not supported: %v, want %v", unsupported, want)
	}
}

// dedent removes the indentation of the first line from every line.
func dedent(lines []string, skipBlanks bool) string {
	n := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if skipBlanks {
				continue
			}
		}
		b.WriteString(strings.TrimRight(l[min(n, len(l)):], " ") + "\n")
	}
	return b.String()
}
