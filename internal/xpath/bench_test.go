package xpath

import (
	"fmt"
	"testing"
)

const benchEntries = 10000

// benchTree builds a configuration with benchEntries address pools and
// benchEntries VPNs, each VPN naming a pool in addr-source and carrying two
// ESP proposals.
func benchTree() (root *tnode, vpns []Node) {
	root = cont("")
	for i := range benchEntries {
		root.add(cont("pool", leaf("name", fmt.Sprintf("pool-%d", i)), leaf("range", "10.0.0.0/24")))
	}
	for i := range 100 {
		root.add(cont("vrf", leaf("name", fmt.Sprintf("vrf-%d", i)), leaf("table", fmt.Sprint(i))))
	}
	for i := range benchEntries {
		root.add(cont("vpn",
			leaf("name", fmt.Sprintf("vpn-%d", i)),
			leaf("vrf", fmt.Sprintf("vrf-%d", i%100)),
			leaf("addr-source", fmt.Sprintf("pool-%d", (i*7919)%benchEntries)),
			leaf("svti-id-in", "1"), leaf("svti-id-out", "2"),
			cont("esp-proposal", leaf("name", "a"), leaf("enc-alg", "aes128"), leaf("auth-alg", "sha1")),
			cont("esp-proposal", leaf("name", "b"), leaf("aead-alg", "aes-gcm")),
		))
	}
	return root, root.Children("vpn")
}

func benchEval(b *testing.B, src string, indexed bool, ctx func(vpn Node) Node) {
	root, vpns := benchTree()
	setIndexed(root, indexed)
	e := MustCompile(src)
	ctxs := make([]Node, len(vpns))
	for i, v := range vpns {
		ctxs[i] = ctx(v)
	}
	// Every context must hold, so each evaluation does the full work.
	for _, c := range ctxs[:100] {
		if ok, err := e.EvalBool(c, nil); err != nil || !ok {
			b.Fatalf("%s at %s: %v %v", src, label(c), ok, err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.EvalBool(ctxs[i%len(ctxs)], nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func child(name string) func(Node) Node {
	return func(n Node) Node { return n.Children(name)[0] }
}

// BenchmarkKeyPredicateScan evaluates the pool leafref-style must once per
// VPN; each evaluation scans the 10,000 pool entries.
func BenchmarkKeyPredicateScan(b *testing.B) {
	benchEval(b, ". = 'radius' or ../../pool[name = current()]", false, child("addr-source"))
}

// BenchmarkKeyPredicateIndexed is the same with a Node implementing Indexer.
func BenchmarkKeyPredicateIndexed(b *testing.B) {
	benchEval(b, ". = 'radius' or ../../pool[name = current()]", true, child("addr-source"))
}

// BenchmarkLeafrefVrf resolves a leafref-style absolute path over 100 VRFs.
func BenchmarkLeafrefVrf(b *testing.B) {
	benchEval(b, "/vrf[name = current()/../vrf]", false, child("vrf"))
}

// BenchmarkNotAnd is the simple must of an ESP proposal.
func BenchmarkNotAnd(b *testing.B) {
	benchEval(b, "not(aead-alg and (enc-alg or auth-alg))", false, func(n Node) Node { return n.Children("esp-proposal")[1] })
}

// BenchmarkSibling is a when-style sibling existence test.
func BenchmarkSibling(b *testing.B) {
	benchEval(b, "../svti-id-out", false, child("svti-id-in"))
}

// BenchmarkCountSiblings counts list entries beside the context node.
func BenchmarkCountSiblings(b *testing.B) {
	benchEval(b, "count(../esp-proposal) >= 1 and ../svti-id-in != ../svti-id-out", false, child("name"))
}

// BenchmarkMustAllEntries validates a must on every one of the 10,000 VPN
// entries per iteration, as a full validation pass does.
func BenchmarkMustAllEntries(b *testing.B) {
	_, vpns := benchTree()
	e := MustCompile("not(esp-proposal[aead-alg and (enc-alg or auth-alg)]) and count(esp-proposal) >= 1")
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range vpns {
			if ok, err := e.EvalBool(v, v); err != nil || !ok {
				b.Fatalf("%v %v", ok, err)
			}
		}
	}
}

// BenchmarkCompile measures parsing a typical must expression.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(". = 'radius' or ../../pool[name = current()]/range != ''"); err != nil {
			b.Fatal(err)
		}
	}
}
