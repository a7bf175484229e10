package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The syntaxes of leaves whose values the engine gets decoded: durations
// (sgt:duration) and secrets (pre-shared-key).

// ParseDuration parses the sgt:duration syntax: a number followed by ms, s
// (the default unit), m, h or d.
func ParseDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	unit := time.Second
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = n, u.unit
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("config: bad duration %q", s)
	}
	return time.Duration(n) * unit, nil
}

// DecodePSK decodes a pre-shared-key leaf: plain text, "0x" followed by
// hexadecimal digits, or "0s" followed by base64. The error never contains
// the key.
func DecodePSK(s string) ([]byte, error) { return DecodeSecret("pre-shared key", s) }

// DecodeSecret decodes a secret leaf of the pre-shared-key syntax (a PSK,
// a PPK secret); what names it in errors, which never contain the value.
func DecodeSecret(what, s string) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "0x"):
		b, err := hex.DecodeString(s[2:])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("config: %s: bad hexadecimal encoding", what)
		}
		return b, nil
	case strings.HasPrefix(s, "0s"):
		b, err := base64.StdEncoding.DecodeString(s[2:])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("config: %s: bad base64 encoding", what)
		}
		return b, nil
	}
	if s == "" {
		return nil, fmt.Errorf("config: empty %s", what)
	}
	return []byte(s), nil
}
