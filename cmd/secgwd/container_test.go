package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"secgw/internal/daemon"
)

// containerfile returns the instructions of packaging/Containerfile, one
// a line, continuation lines joined, comments dropped.
func containerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("packaging", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		cur += strings.TrimSpace(l)
		if strings.HasSuffix(cur, "\\") {
			cur = strings.TrimSuffix(cur, "\\") + " "
			continue
		}
		if cur != "" {
			out = append(out, cur)
		}
		cur = ""
	}
	return out
}

// TestContainerfile: the container recipe, which no test machine can
// build (no container engine), still matches the code: the flags of
// its ENTRYPOINT and CMD are secgwd's (run parses them, and their values
// are ones secgwd takes), the paths it copies from the source tree
// exist, the binaries it copies out of the build stage are the ones
// built, and the ENTRYPOINT runs the secgwd it installs.
func TestContainerfile(t *testing.T) {
	var entry, cmd []string
	built := map[string]bool{}
	installed := map[string]bool{}
	goBuild := regexp.MustCompile(`go build .* -o /out/ ((?:\./cmd/\S+ ?)+)$`)
	for _, in := range containerfile(t) {
		word, rest, _ := strings.Cut(in, " ")
		switch word {
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(rest), &v); err != nil {
				t.Fatalf("%s is not an exec-form JSON array: %v", word, err)
			}
			if word == "ENTRYPOINT" {
				entry = v
			} else {
				cmd = v
			}
		case "RUN":
			if m := goBuild.FindStringSubmatch(rest); m != nil {
				for _, pkg := range strings.Fields(m[1]) {
					if _, err := os.Stat(filepath.Join("..", "..", pkg)); err != nil {
						t.Errorf("go build of %s: %v", pkg, err)
					}
					built["/out/"+filepath.Base(pkg)] = true
				}
			}
		case "COPY":
			args := strings.Fields(rest)
			from := strings.HasPrefix(args[0], "--from=")
			if from {
				args = args[1:]
			}
			dst := args[len(args)-1]
			for _, src := range args[:len(args)-1] {
				if from {
					if !built[src] {
						t.Errorf("COPY --from the build stage of %s, which the build does not make (it makes %v)", src, built)
					}
					continue
				}
				if src == "." {
					continue
				}
				if _, err := os.Stat(filepath.Join("..", "..", src)); err != nil {
					t.Errorf("COPY %s: not in the source tree: %v", src, err)
				}
			}
			installed[dst] = true
		}
	}
	if len(entry) == 0 || len(cmd) == 0 || len(built) == 0 {
		t.Fatalf("ENTRYPOINT %q, CMD %q, go build of %v: want all three", entry, cmd, built)
	}
	if !installed[entry[0]] || filepath.Base(entry[0]) != "secgwd" {
		t.Errorf("ENTRYPOINT runs %s, want the secgwd a COPY installs (%v)", entry[0], installed)
	}
	args := append(slices.Clone(entry[1:]), cmd...)
	// -version last: run parses every flag, then prints the version
	// and returns 0 before it starts anything; an unknown flag or a
	// value of the wrong type returns 2.
	if code := run(append(slices.Clone(args), "-version")); code != 0 {
		t.Errorf("secgwd %q: run = %d, want its flags parsed", args, code)
	}
	// The values run checks after -version would have stopped it.
	for i := 0; i+1 < len(args); i++ {
		switch v := args[i+1]; args[i] {
		case "-log-level":
			if _, err := parseLevel(v); err != nil {
				t.Errorf("-log-level %s: %v", v, err)
			}
		case "-dataplane":
			if !slices.Contains([]string{daemon.DataplaneAuto, daemon.DataplaneKernel, daemon.DataplaneUserspace, daemon.DataplaneFake}, v) {
				t.Errorf("-dataplane %s: not one secgwd takes", v)
			}
		case "-memory-limit":
			if _, err := parseMemoryLimit(v); err != nil {
				t.Errorf("-memory-limit %s: %v", v, err)
			}
		}
	}
}
