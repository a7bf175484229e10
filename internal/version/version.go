// Package version says which build a secgw binary is: the version given
// at link time (make sets it with -ldflags "-X secgw/internal/version.Version=...",
// from git describe), else the VCS revision Go records in the binary
// (runtime/debug.ReadBuildInfo, filled by go build in a git work tree).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time; empty in a plain go build.
var Version = ""

// String is one line naming the program, its version, the VCS revision
// and time when known, and the Go toolchain: "secgwd 1.2.0 (rev
// 0123abcd, 2026-12-07T18:00:00Z, modified) go1.24".
func String(program string) string {
	return format(program, Version, read())
}

// build is what ReadBuildInfo knows.
type build struct {
	module, revision, time string
	modified               bool
}

func read() build {
	var b build
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.module = bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

func format(program, v string, b build) string {
	if v == "" {
		v = b.module
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	s := program + " " + v
	if b.revision != "" {
		rev := b.revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " (rev " + rev
		if b.time != "" {
			s += ", " + b.time
		}
		if b.modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s", s, runtime.Version())
}
