package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofLoopbackOnly: -pprof refuses an address other than loopback,
// and serves the profile index on loopback.
func TestPprofLoopbackOnly(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "localhost"} {
		if _, err := startPprof(bad); err == nil {
			t.Errorf("startPprof(%q) accepted", bad)
		}
	}
	addr, err := startPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Errorf("index: %s\n%.200s", resp.Status, b)
	}
}
