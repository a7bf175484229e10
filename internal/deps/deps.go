//go:build deps

// Package deps pins the modules the design names before every one of them is
// imported by a subsystem, so that `go mod tidy` keeps them. It is never built
// (the deps tag is never set).
package deps

import (
	_ "github.com/Juniper/go-netconf/netconf"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/ssh"
)
