package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// goldenCase is one golden file: the configuration and state to feed,
// and per command its expected output (and, for an RPC, the request the
// CLI must send and the reply the server gives).
type goldenCase struct {
	name          string
	config, state []byte
	cmds          []string
	want          map[string]string
	request       map[string]string
	reply         map[string]string
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var out []goldenCase
	for _, f := range files {
		gc := goldenCase{name: filepath.Base(f), want: map[string]string{}, request: map[string]string{}, reply: map[string]string{}}
		for _, s := range readGolden(t, f) {
			switch {
			case s.name == "config.xml":
				gc.config = []byte(s.body)
			case s.name == "state.xml":
				gc.state = []byte(s.body)
			case strings.HasPrefix(s.name, "request: "):
				gc.request[strings.TrimPrefix(s.name, "request: ")] = strings.TrimSpace(s.body)
			case strings.HasPrefix(s.name, "reply: "):
				gc.reply[strings.TrimPrefix(s.name, "reply: ")] = s.body
			default:
				gc.cmds = append(gc.cmds, s.name)
				gc.want[s.name] = s.body
			}
		}
		out = append(out, gc)
	}
	return out
}

// TestGolden feeds each golden file's configuration and state (XML built
// from the vsr guide) to the CLI and checks that every command prints,
// byte for byte, what the guide prints, and that each operational
// command sends the RPC the model defines.
func TestGolden(t *testing.T) {
	s := loadSchema(t)
	cases := loadGolden(t)
	cmds := 0
	for _, gc := range cases {
		t.Run(gc.name, func(t *testing.T) {
			m := newMem(t, s, gc.config, gc.state)
			var buf bytes.Buffer
			c := New(s, m, &buf)
			for _, cmd := range gc.cmds {
				m.requests = nil
				m.reply = func(rpc []byte) ([]byte, error) {
					if want, ok := gc.request[cmd]; ok && string(rpc) != want {
						t.Errorf("%s: sent\n%s\nwant\n%s", cmd, rpc, want)
					}
					return []byte(gc.reply[cmd]), nil
				}
				got, err := run(c, &buf, cmd)
				if err != nil {
					t.Errorf("%s: %v", cmd, err)
					continue
				}
				if d := diff(got, gc.want[cmd]); d != "" {
					t.Errorf("%s: %s", cmd, d)
				}
				if _, isRPC := gc.request[cmd]; isRPC && len(m.requests) != 1 {
					t.Errorf("%s: %d requests, want 1", cmd, len(m.requests))
				}
				cmds++
			}
		})
	}
	if cmds < 25 {
		t.Errorf("only %d golden commands ran", cmds)
	}
}
