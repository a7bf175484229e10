package routes

import "secgw/internal/ipsec"

// Exported for the tests of package routes_test.
var (
	TSPrefixes = tsPrefixes
	LastAddr   = ipsec.LastAddr
)
