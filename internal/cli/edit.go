package cli

import (
	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/cliedit"
	"secgw/internal/schema"
)

// The configuration-mode line editor lives in internal/cliedit (it needs
// neither NETCONF nor the XML codec); these names keep the CLI's code
// and tests reading as before.
type (
	Editor            = cliedit.Editor
	Op                = cliedit.Op
	Change            = cliedit.Change
	Target            = cliedit.Target
	NotSupportedError = cliedit.NotSupportedError
)

// Fields splits a configuration line into words (cliedit.Fields).
func Fields(line string) []string { return cliedit.Fields(line) }

// Words is the configuration-line form of a path (cliedit.Words).
var Words = cliedit.Words

func typeName(yt *yang.YangType) string { return cliedit.TypeName(yt) }
func typeHelp(e *yang.Entry) string     { return cliedit.TypeHelp(e) }
func quote(v string) string             { return cliedit.Quote(v) }
func printable(s string) string         { return cliedit.Printable(s) }
func badValue(path schema.DataPath, f *schema.Field, v string, err error) error {
	return cliedit.BadValue(path, f, v, err)
}
