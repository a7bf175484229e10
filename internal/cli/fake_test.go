package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// memBackend is a Backend over in-memory trees, answering get and
// get-config the way internal/netconf does (xmlcodec with the filter and
// with-defaults mode), with operational state fed as XML: the daemon
// does not serve state yet. Edits, commits and validation act on the
// trees; RPCs are recorded and answered by reply.
type memBackend struct {
	t                  testing.TB
	s                  *schema.Schema
	codec              *xmlcodec.Codec
	v                  *validate.Validator // nil: everything validates
	running, candidate *generated.Device
	state              []byte // state XML merged into <get>
	requests           [][]byte
	reply              func(rpc []byte) ([]byte, error)
	commits            []CommitOptions // the commits, in order
	locks              []string        // "lock candidate", "unlock running"...
}

func newMem(t testing.TB, s *schema.Schema, config, state []byte) *memBackend {
	t.Helper()
	codec, err := xmlcodec.New(s)
	if err != nil {
		t.Fatal(err)
	}
	m := &memBackend{t: t, s: s, codec: codec, running: &generated.Device{}, state: state}
	m.running.GetOrCreateVrf("main")
	if len(config) > 0 {
		if err := m.merge(m.running, config, false); err != nil {
			t.Fatalf("config: %v", err)
		}
	}
	m.candidate = datastore.Clone(m.running)
	return m
}

func (m *memBackend) merge(d *generated.Device, x []byte, state bool) error {
	var b bytes.Buffer
	b.WriteString(`<config xmlns="` + NSBase + `">`)
	b.Write(x)
	b.WriteString(`</config>`)
	edits, err := m.codec.Decode(&b, nil, xmlcodec.DecodeOptions{AllowState: state})
	if err != nil {
		return err
	}
	return xmlcodec.Apply(m.s, d, edits, xmlcodec.OpMerge)
}

func (m *memBackend) encode(d *generated.Device, filter []byte, defaults string, config bool) ([]byte, error) {
	opts := xmlcodec.EncodeOptions{Config: config, Secrets: true, WithDefaults: xmlcodec.DefaultsMode(defaults)}
	if filter != nil {
		f, err := xmlcodec.ParseFilter(bytes.NewReader(filter))
		if err != nil {
			return nil, err
		}
		opts.Filter = f
	}
	return m.codec.Append(nil, d, opts)
}

func (m *memBackend) Get(filter []byte, defaults string) ([]byte, error) {
	d := datastore.Clone(m.running)
	if len(m.state) > 0 {
		if err := m.merge(d, m.state, true); err != nil {
			m.t.Fatalf("state: %v", err)
		}
	}
	return m.encode(d, filter, defaults, false)
}

func (m *memBackend) GetConfig(source string, filter []byte, defaults string) ([]byte, error) {
	d := m.running
	if source == "candidate" {
		d = m.candidate
	}
	return m.encode(d, filter, defaults, true)
}

func (m *memBackend) EditConfig(config []byte) error {
	m.requests = append(m.requests, config)
	d := datastore.Clone(m.candidate)
	if err := m.merge(d, config, false); err != nil {
		return RPCErrors{{Tag: "invalid-value", Message: err.Error()}}
	}
	m.candidate = d
	return nil
}

func (m *memBackend) Commit(opt CommitOptions) error {
	if err := m.Validate(); err != nil {
		return err
	}
	m.commits = append(m.commits, opt)
	m.running = datastore.Clone(m.candidate)
	return nil
}

// Lock and Unlock record the locks; the in-memory backend has one
// session, so they never conflict.
func (m *memBackend) Lock(target string) error {
	m.locks = append(m.locks, "lock "+target)
	return nil
}

func (m *memBackend) Unlock(target string) error {
	m.locks = append(m.locks, "unlock "+target)
	return nil
}

func (m *memBackend) Validate() error {
	if m.v == nil {
		return nil
	}
	if err := m.v.Validate(m.candidate); err != nil {
		return RPCErrors{{Tag: "operation-failed", Message: err.Error()}}
	}
	return nil
}

func (m *memBackend) Discard() error {
	m.candidate = datastore.Clone(m.running)
	return nil
}

func (m *memBackend) Call(rpc []byte) ([]byte, error) {
	m.requests = append(m.requests, rpc)
	if m.reply == nil {
		return nil, RPCErrors{{Type: "protocol", Tag: "operation-not-supported", Message: "operation is not supported"}}
	}
	return m.reply(rpc)
}

func (m *memBackend) Close() error { return nil }

// section is one "-- name --" part of a golden file.
type section struct {
	name string
	body string
}

// readGolden reads a golden file: "#" comment lines before the first
// section, then sections, each introduced by a line "-- name --" and
// running to the next such line.
func readGolden(t testing.TB, path string) []section {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []section
	for _, line := range strings.SplitAfter(string(b), "\n") {
		trimmed := strings.TrimRight(line, "\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			out = append(out, section{name: trimmed[3 : len(trimmed)-3]})
			continue
		}
		if len(out) == 0 {
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				t.Fatalf("%s: text before the first section: %q", path, trimmed)
			}
			continue
		}
		out[len(out)-1].body += line
	}
	return out
}

// run runs one line on c and returns what it printed, or the error.
func run(c *CLI, buf *bytes.Buffer, line string) (string, error) {
	buf.Reset()
	err := c.Run(line)
	return buf.String(), err
}

func mustRun(t testing.TB, c *CLI, buf *bytes.Buffer, line string) string {
	t.Helper()
	out, err := run(c, buf, line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return out
}

// diff reports the first differing line of two texts.
func diff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  got  %q\n  want %q\nfull output:\n%s", i+1, gl, wl, got)
		}
	}
	return ""
}
