package routes

import "secgw/internal/ike/wire"

// Exported for the tests of package routes_test.
var (
	TSPrefixes = tsPrefixes
	LastAddr   = wire.LastAddr
)
