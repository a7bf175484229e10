// Package configs holds the example configurations of secgw: each as the
// CLI text an operator types (`secgw < NAME.cli`) and as the NETCONF
// <config> an automation sends (NAME.xml, with edit-config). The test
// proves both forms are the same valid configuration, for these and for
// the two nodes of examples/ha.
package configs

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/golden"
	"secgw/internal/schema"
	"secgw/internal/support"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// TestExamples applies each .cli file as configuration-mode lines, checks
// the result with the validator a commit runs and that it sets nothing
// this release refuses (internal/support), and compares it with the
// .xml file (encoded, and decoded back into the same tree).
func TestExamples(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New(s)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.cli")
	if len(files) < 3 {
		t.Fatalf("only %d example configurations", len(files))
	}
	// The two nodes of the HA concentrator (examples/ha, with its
	// keepalived configuration; test/ha runs them).
	ha, _ := filepath.Glob("../ha/*.cli")
	if len(ha) != 2 {
		t.Fatalf("%d HA node configurations in examples/ha, want 2", len(ha))
	}
	files = append(files, ha...)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			d := &generated.Device{}
			applyCLI(t, s, d, f)
			if err := v.Validate(d); err != nil {
				t.Fatalf("%s does not validate: %v", f, err)
			}
			codec, err := xmlcodec.New(s)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.WriteString("<config xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">\n")
			if err := codec.Encode(&b, d, xmlcodec.EncodeOptions{Config: true, Secrets: true, Indent: "  "}); err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n</config>\n")
			xmlFile := strings.TrimSuffix(f, ".cli") + ".xml"
			if golden.Update() {
				if err := os.WriteFile(xmlFile, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(xmlFile)
			if err != nil {
				t.Fatalf("%v (run go test ./examples/configs -update)", err)
			}
			if !bytes.Equal(want, b.Bytes()) {
				t.Fatalf("%s is not %s encoded (run go test ./examples/configs -update)", xmlFile, f)
			}
			back := &generated.Device{}
			edits, err := codec.Decode(bytes.NewReader(want), back, xmlcodec.DecodeOptions{})
			if err == nil {
				err = xmlcodec.Apply(s, back, edits, xmlcodec.OpMerge)
			}
			if err != nil {
				t.Fatalf("decoding %s: %v", xmlFile, err)
			}
			if !reflect.DeepEqual(back, d) {
				t.Errorf("%s decodes to another configuration than %s", xmlFile, f)
			}
			// An example claims only what runs: nothing a commit refuses.
			if err := support.NewChecker(s).Present(d); err != nil {
				t.Fatalf("%s sets what this release refuses: %v", f, err)
			}
		})
	}
}

// applyCLI runs the configuration lines of a .cli file; comments, blank
// lines and the mode commands (edit running, commit) are skipped.
func applyCLI(t *testing.T, s *schema.Schema, d *generated.Device, name string) {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	ed := &cliedit.Editor{S: s}
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), line == "edit running", line == "commit":
			continue
		}
		if _, err := ed.Set(d, nil, cliedit.Fields(line)); err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
	}
}
