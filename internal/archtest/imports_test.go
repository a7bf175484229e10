package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// module is the module path; package paths below are relative to it.
const module = "secgw"

// Layers, lowest first. A package may import packages of a lower layer, or
// of its own layer when both are in one group or the pair is in sameLayer.
const (
	leaf       = iota // imports nothing of ours: the ipsec vocabulary, generated structs, xpath
	vocabulary        // codecs, crypto, schema: no state of the product
	core              // the engine and the datastore with its validation and codec
	subsystem         // what the daemon owns: NETCONF, IKE service, dataplanes, routes, logging
	program           // the daemon and the CLI
	command           // main packages
)

// layers places every non-test package of the module, with its group (a
// subsystem, or the package itself). A package missing here fails the test:
// a new package is placed on purpose.
var layers = map[string]struct {
	layer int
	group string
}{
	"generated":                    {leaf, "generated"},
	"internal/ipsec":               {leaf, "ipsec"},
	"internal/ike/wire":            {vocabulary, "ike"},
	"internal/ike/crypto":          {vocabulary, "ike"},
	"internal/ike/proposal":        {vocabulary, "ike"},
	"internal/ike/ts":              {vocabulary, "ike"},
	"internal/ike/config":          {vocabulary, "ike"},
	"internal/esp":                 {vocabulary, "esp"},
	"internal/edge":                {vocabulary, "edge"},
	"internal/edge/edgetest":       {vocabulary, "edge"},
	"internal/xpath":               {leaf, "xpath"},
	"internal/schema":              {vocabulary, "schema"},
	"internal/logging/loglimit":    {leaf, "loglimit"},
	"internal/poll":                {leaf, "poll"},
	"internal/ptr":                 {leaf, "ptr"}, // nil-safe reads of the generated structs' optional leaves
	"internal/rpcerr":              {leaf, "rpcerr"},
	"internal/netnsutil/netnstest": {leaf, "netnsutil"},
	"internal/netnsutil":           {leaf, "netnsutil"},
	"internal/golden":              {leaf, "golden"},
	"internal/pkitest":             {leaf, "pkitest"},
	"internal/swanctl":             {leaf, "swanctl"},
	"internal/archtest":            {leaf, "archtest"},
	"internal/version":             {leaf, "version"},
	"internal/nacm":                {leaf, "nacm"},
	"yang":                         {leaf, "yang"},

	"internal/ike/engine":            {core, "ike"},
	"internal/radius":                {core, "radius"}, // the RADIUS client ikesvc adapts to the engine's AAA
	"internal/ike/engine/enginetest": {core, "ike"},
	"internal/datastore":             {core, "datastore"},
	"internal/validate":              {core, "datastore"},
	"internal/xmlcodec":              {core, "datastore"},
	"internal/support":               {core, "datastore"},
	"internal/netconf/framing":       {vocabulary, "framing"},
	"internal/ncclient":              {core, "ncclient"},
	"internal/netconf/transport":     {core, "transport"},
	"internal/cliedit":               {core, "cliedit"},
	"internal/pool":                  {core, "pool"},
	"internal/vpnmon":                {core, "vpnmon"},

	"internal/netconf":             {subsystem, "netconf"},
	"internal/ikesvc":              {subsystem, "ikesvc"},
	"internal/ike/udpconn":         {subsystem, "udpconn"},
	"internal/ike/tcpencap":        {subsystem, "udpconn"}, // the TCP edge beside the UDP one
	"internal/dataplane":           {subsystem, "dataplane"},
	"internal/dataplane/childsa":   {subsystem, "dataplane"},
	"internal/dataplane/userspace": {subsystem, "dataplane"},
	"internal/dataplane/xfrm":      {subsystem, "dataplane"},
	"internal/routes":              {subsystem, "routes"},
	"internal/routes/routestest":   {subsystem, "routes"},
	"internal/logging":             {subsystem, "logging"},
	"internal/ike/resolve":         {core, "resolve"},
	"internal/loadtest":            {subsystem, "loadtest"},
	"internal/metrics":             {subsystem, "metrics"},
	"internal/ha":                  {subsystem, "ha"}, // imports neither the engine nor the dataplane: the daemon glues them

	"internal/daemon":     {program, "daemon"},
	"internal/cli":        {program, "cli"},
	"internal/configtest": {program, "configtest"},

	"cmd/secgw":          {command, "cmd"},
	"cmd/secgwd":         {command, "cmd"},
	"cmd/secgw-loadtest": {command, "cmd"},
	"examples/configs":   {command, "examples"},
}

// sameLayer lists the arrows allowed between two groups of one layer.
var sameLayer = map[[2]string]bool{
	{"ikesvc", "dataplane"}: true, // the service lists and flushes the dataplane's SAs
	{"ikesvc", "udpconn"}:   true, // the service owns the IKE sockets
	{"loadtest", "udpconn"}: true, // the load generator sends through the same sockets
}

// packages returns each package of the module with its non-test imports
// inside the module (both relative to the module path).
func packages(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		p, ok := strings.CutPrefix(f[0], module+"/")
		if !ok {
			continue
		}
		var imps []string
		for _, imp := range f[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				imps = append(imps, rel)
			}
		}
		pkgs[p] = imps
	}
	return pkgs
}

func TestImportsPointDown(t *testing.T) {
	for p, imps := range packages(t) {
		if strings.HasPrefix(p, "test/") {
			continue // end-to-end tests may use anything
		}
		from, ok := layers[p]
		if !ok {
			t.Errorf("package %s is not placed in archtest's layers table", p)
			continue
		}
		for _, imp := range imps {
			to, ok := layers[imp]
			if !ok {
				continue // reported for itself
			}
			switch {
			case to.layer < from.layer, to.group == from.group:
			case to.layer == from.layer && sameLayer[[2]string{from.group, to.group}]:
			case to.layer > from.layer:
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow up", p, from.layer, imp, to.layer)
			default:
				t.Errorf("%s imports %s: two subsystems of layer %d, an arrow not declared in sameLayer", p, imp, from.layer)
			}
		}
	}
}

// TestEngineLinksNoGenerated keeps the deterministic core free of ygot and
// the generated structs (and what they pull: gnmi, grpc, protobuf).
func TestEngineLinksNoGenerated(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", module+"/internal/ike/engine").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var bad []string
	for _, d := range strings.Fields(string(out)) {
		if d == module+"/generated" || strings.Contains(d, "ygot") || strings.Contains(d, "gnmi") ||
			strings.Contains(d, "grpc") || strings.Contains(d, "protobuf") {
			bad = append(bad, d)
		}
	}
	sort.Strings(bad)
	if n := len(bad); n > 0 {
		t.Errorf("internal/ike/engine links %d packages of generated code and ygot, e.g. %s", n, strings.Join(bad[:min(n, 3)], ", "))
	}
}

// TestWireIsTheIKECodec keeps the IKE message codec to IKE: the dataplanes,
// ESP, routes and the daemon speak the ipsec vocabulary.
func TestWireIsTheIKECodec(t *testing.T) {
	for p, imps := range packages(t) {
		if strings.HasPrefix(p, "internal/ike/") || p == "internal/loadtest" || strings.HasPrefix(p, "test/") || strings.HasPrefix(p, "cmd/") {
			continue
		}
		for _, imp := range imps {
			if imp == "internal/ike/wire" {
				t.Errorf("%s imports internal/ike/wire; the vocabulary it shares with IKE is internal/ipsec", p)
			}
		}
	}
}
