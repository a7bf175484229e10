package cli_test

import (
	"io"
	"strings"
	"testing"

	"secgw/internal/cli"
	"secgw/internal/configtest"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// cannedBackend answers every get and get-config with the same data, so
// that a benchmark measures the CLI alone: decoding the reply's data and
// rendering the text.
type cannedBackend struct{ data []byte }

func (b cannedBackend) Get([]byte, string) ([]byte, error)               { return b.data, nil }
func (b cannedBackend) GetConfig(string, []byte, string) ([]byte, error) { return b.data, nil }
func (cannedBackend) EditConfig([]byte) error                            { return nil }
func (cannedBackend) Commit(cli.CommitOptions) error                     { return nil }
func (cannedBackend) Lock(string) error                                  { return nil }
func (cannedBackend) Unlock(string) error                                { return nil }
func (cannedBackend) Validate() error                                    { return nil }
func (cannedBackend) Discard() error                                     { return nil }
func (cannedBackend) Call([]byte) ([]byte, error)                        { return nil, nil }
func (cannedBackend) Close() error                                       { return nil }

// BenchmarkShowConfig10k is 'show config nodefault / vrf main ike' of
// the concentrator scaled to 10,000 VPNs (40,000 security policies): the
// CLI's share of the command, from the XML of the reply to the text.
func BenchmarkShowConfig10k(b *testing.B) {
	s, err := schema.Load()
	if err != nil {
		b.Fatal(err)
	}
	d := configtest.Concentrator(b, s, 10000)
	codec, err := xmlcodec.New(s)
	if err != nil {
		b.Fatal(err)
	}
	data, err := codec.Append(nil, d, xmlcodec.EncodeOptions{Config: true, Secrets: true})
	if err != nil {
		b.Fatal(err)
	}
	var out strings.Builder
	c := cli.New(s, cannedBackend{data}, &out)
	if err := c.Run("show config nodefault / vrf main ike"); err != nil {
		b.Fatal(err)
	}
	lines := strings.Count(out.String(), "\n")
	c = cli.New(s, cannedBackend{data}, io.Discard)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if err := c.Run("show config nodefault / vrf main ike"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines), "lines")
}
