package validate

import (
	"regexp"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// CheckValue returns why str is not in the value space of the YANG type
// yt, or "" when it is: the range of a number, the length and patterns
// of a string, the ietf-inet-types addresses and prefixes, the members
// of a union. It is the check validation makes of every leaf, for a
// client that checks a value as it is typed (the CLI); secret keeps the
// value out of the reason. str must already parse as the type's lexical
// form (schema.ParseValue: integers, enum names, booleans).
func CheckValue(yt *yang.YangType, str string, secret bool) string {
	c := &compiler{plans: map[*schema.Binding]*nodePlan{}, re: map[string]*regexp.Regexp{}, xp: map[string]*xpath.Expr{}}
	t, err := c.typ(yt)
	if err != nil {
		return "" // a pattern Go cannot compile: the server will say
	}
	return t.check(str, secret)
}
