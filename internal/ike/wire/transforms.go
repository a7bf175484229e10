package wire

import (
	"strconv"

	"secgw/internal/ipsec"
)

// String renders the transform as "TYPE:NAME[/KEYLEN]", e.g.
// "ENCR:AES_CBC/256".
func (t Transform) String() string {
	s := t.Type.String() + ":" + ipsec.TransformName(t.Type, t.ID)
	if kl, ok := t.KeyLength(); ok {
		s += "/" + strconv.Itoa(int(kl))
	}
	return s
}
