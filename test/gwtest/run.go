package gwtest

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// CmdTimeout bounds every command Run runs.
const CmdTimeout = 20 * time.Second

// Run runs a command with a bounded time and returns its combined output.
func Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), CmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
