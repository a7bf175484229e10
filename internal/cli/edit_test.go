package cli

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

func loadSchema(t testing.TB) *schema.Schema {
	t.Helper()
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSetReferenceLines(t *testing.T) {
	s := loadSchema(t)
	ed := &Editor{S: s}
	f, err := os.Open("../../test/testdata/vsr-config-lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := &generated.Device{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := ed.Set(d, nil, Fields(line)); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		n++
	}
	if n < 70 {
		t.Fatalf("only %d lines", n)
	}
}
