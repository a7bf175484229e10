package engine_test

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"secgw/internal/ike/engine"
)

// TestKeyLogging: key material is logged only at level 4 (LevelKeys) and
// with Options.LogKeys (secgwd -log-keys), in hex; level 4 alone, or the
// switch at a lower level, logs no key, neither in hex nor raw.
func TestKeyLogging(t *testing.T) {
	for _, c := range []struct {
		name    string
		level   slog.Level
		logKeys bool
		want    bool
	}{
		{"level 4 with keys", engine.LevelKeys, true, true},
		{"level 4", engine.LevelKeys, false, false},
		{"level 3 with keys", engine.LevelKeys + 2, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			opt := func(o *engine.Options) {
				o.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: c.level}))
				o.LogKeys = c.logKeys
			}
			a, b := pairOpts(t, nil, nil, opt, opt)
			establish(t, a, b)
			ca, _ := checkChildPair(t, a, b)
			log := out.String()
			keys := [][]byte{ca.In.Encr, ca.Out.Encr, ca.In.Integ, ca.Out.Integ}
			for _, k := range keys {
				if len(k) == 0 {
					continue
				}
				if has := strings.Contains(log, hex.EncodeToString(k)); has != c.want {
					t.Errorf("child key %x in the log: %v, want %v", k, has, c.want)
				}
				if q := strconv.Quote(string(k)); strings.Contains(log, string(k)) || strings.Contains(log, q[1:len(q)-1]) {
					t.Errorf("child key %x in the log as raw octets", k)
				}
			}
			if n := strings.Count(log, `msg="IKE SA keys"`); c.want && n != 2 || !c.want && n != 0 {
				t.Errorf("%d IKE SA keys records", n)
			}
			if n := strings.Count(log, `msg="child SA keys"`); c.want && n != 2 || !c.want && n != 0 {
				t.Errorf("%d child SA keys records", n)
			}
			if c.want && !strings.Contains(log, "sk_d=") {
				t.Error("no sk_d in the IKE SA keys record")
			}
		})
	}
}
