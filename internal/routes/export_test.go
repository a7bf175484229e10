package routes

// Exported for the tests of package routes_test.
var (
	TSPrefixes = tsPrefixes
	LastAddr   = lastAddr
)
