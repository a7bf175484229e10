// Package yang holds the YANG modules of secgw and embeds them, so that the
// daemon can parse its own schema at run time (for validation, the XML codec,
// the CLI and NETCONF get-schema) without depending on where it is installed.
package yang

import "embed"

// FS holds every module of this directory, standard imports included.
//
//go:embed *.yang
var FS embed.FS

// Modules lists the modules that define secgw's data, in dependency order.
// The ietf modules are imported by them and are in FS too.
var Modules = []string{"secgw-types", "secgw-vrf", "secgw-ike", "secgw-ha", "secgw-config", "secgw-kpi", "secgw-aaa", "ietf-netconf-acm"}
