package cli

import (
	"fmt"

	"secgw/generated"
)

// getState is the fetch of the operational show commands (show ike
// certificates, ha, pool, ike-sa): it resolves path (from the root, in
// state), asks the server for that subtree with <get> (explicit
// defaults: the renderers supply their own) and decodes the reply.
// keys asks for a filter that names the key leaves, which the server
// sends only when named (show ike ike-sa with-keys).
func (c *CLI) getState(path []string, keys bool) (*generated.Device, error) {
	t, err := c.ed.Resolve(nil, path, false)
	if err != nil {
		return nil, err
	}
	build := subtreeFilter
	if keys {
		build = keysFilter
	}
	filter, err := build(c.s, t)
	if err != nil {
		return nil, err
	}
	data, err := c.be.Get(filter, "explicit")
	if err != nil {
		return nil, err
	}
	return c.decode(data)
}

// vrfWord reads the optional "vrf NAME" of a show command with no
// other words (cmd names the command in the error); main by default.
func vrfWord(words []string, cmd string) (string, error) {
	switch {
	case len(words) == 0:
		return "main", nil
	case len(words) == 2 && words[0] == "vrf":
		return words[1], nil
	}
	return "", fmt.Errorf("cli: %s: expected nothing, or vrf NAME", cmd)
}
