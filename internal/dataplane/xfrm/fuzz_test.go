package xfrm

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
	"secgw/internal/golden"
)

// Decoder numbers of FuzzDecode.
const (
	fuzzSA = iota
	fuzzPolicy
	fuzzExpire
	fuzzAcquire
	fuzzSPDInfo
	fuzzNetlink // a whole datagram: message walk, error replies, events
	fuzzKinds
)

// fuzzSeeds returns a valid message for every decoder.
func fuzzSeeds(t testing.TB) map[string][2]any {
	seeds := map[string][2]any{}
	names := []string{}
	for name := range testSAs() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sa := testSAs()[name]
		seeds["sa-"+name] = [2]any{uint8(fuzzSA), encodedPayload(t, &sa)}
	}
	for name, p := range testPolicies() {
		var m msg
		encodePolicy(&m, nl.XFRM_MSG_NEWPOLICY, 0, 1, &p, indexTag|8|1)
		seeds["policy-"+name] = [2]any{uint8(fuzzPolicy), m.b[headerLen:]}
	}
	sa := testSAs()["encap-mark-ifid-limits"]
	seeds["expire"] = [2]any{uint8(fuzzExpire), expireMsg(t, sa, 2, 0, true)}
	pol := testPolicies()["fwd-mark-ifid"]
	pkt := dataplane.Selector{Src: netip.MustParsePrefix("10.1.2.3/32"), Dst: netip.MustParsePrefix("10.2.3.4/32")}
	seeds["acquire"] = [2]any{uint8(fuzzAcquire), acquireMsg(t, pol, indexTag|9, pkt)}
	var m msg
	m.put(4)
	copy(m.attr(spdInfoAttr, 24), []byte{1, 0, 0, 0, 2, 0, 0, 0, 3})
	copy(m.attr(spdIPv4, 2), []byte{24, 24})
	seeds["spdinfo"] = [2]any{uint8(fuzzSPDInfo), m.b}
	var e msg
	e.begin(unix.NLMSG_ERROR, nlmFCapped|nlmFAckTLVs, 5)
	ne.PutUint32(e.put(4+headerLen), ^uint32(16)) // -17
	copy(e.attr(nlmsgerrAttrMsg, 7), "exists")
	e.end()
	e.begin(nl.XFRM_MSG_EXPIRE, 0, 0)
	copy(e.put(sizeUserExpire), expireMsg(t, sa, 0, 0, false))
	e.end()
	seeds["datagram"] = [2]any{uint8(fuzzNetlink), e.b}
	return seeds
}

// FuzzDecode feeds every decoder arbitrary bytes: none may panic, an SA
// that decodes and re-encodes must decode the same again, and SeqStates'
// decoder agrees with the full one.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0].(uint8), s[1].([]byte))
	}
	d := &Dataplane{o: Options{ReqIDs: dataplane.OwnedReqIDs}, larval: map[dataplane.SAKey]bool{}, saMark: map[dataplane.SAKey]dataplane.Mark{}}
	f.Fuzz(func(t *testing.T, kind uint8, p []byte) {
		switch kind % fuzzKinds {
		case fuzzSA:
			// decodeSeq (SeqStates) reads a subset of what decodeSA
			// does: where the full decoder succeeds it must agree.
			k, reqID, oseq, iseq, _, serr := decodeSeq(p)
			sa, info, err := decodeSA(p)
			if err != nil {
				return
			}
			if serr != nil || k != sa.Key() || reqID != sa.ReqID || oseq != info.oseq || iseq != info.iseq {
				t.Fatalf("decodeSeq disagrees with decodeSA: %v %d %#x %#x %v; %v %d %#x %#x", k, reqID, oseq, iseq, serr,
					sa.Key(), sa.ReqID, info.oseq, info.iseq)
			}
			var m msg
			if encodeSA(&m, nl.XFRM_MSG_NEWSA, 0, 1, &sa) != nil {
				return
			}
			again, _, err := decodeSA(m.b[headerLen:])
			if err != nil || !reflect.DeepEqual(again, sa) {
				t.Fatalf("re-encoded SA differs:\n%+v\n%+v\n%v", sa, again, err)
			}
		case fuzzPolicy:
			pol, _, ok, err := decodePolicy(p)
			if err != nil || !ok {
				return
			}
			var m msg
			if encodePolicy(&m, nl.XFRM_MSG_NEWPOLICY, 0, 1, &pol, 0) != nil {
				return
			}
			if again, _, _, err := decodePolicy(m.b[headerLen:]); err != nil || again != pol {
				t.Fatalf("re-encoded policy differs:\n%+v\n%+v\n%v", pol, again, err)
			}
		case fuzzExpire:
			decodeExpire(p)
		case fuzzAcquire:
			decodeAcquire(p)
		case fuzzSPDInfo:
			decodeSPDInfo(p)
		case fuzzNetlink:
			walkMessages(p, func(h header, b []byte) error {
				parseError(h, b)
				d.event(h.Type, b)
				return nil
			})
		}
	})
}

// TestFuzzCorpus checks that the checked-in corpus holds a seed of every
// decoder (go test -run TestFuzzCorpus -update rewrites it).
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	seeds := fuzzSeeds(t)
	if golden.Update() {
		os.MkdirAll(dir, 0o755)
		for name, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\n[]byte(%q)\n", rune(s[0].(uint8)), s[1].([]byte))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range seeds {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("corpus entry %s missing (go test -run TestFuzzCorpus -update): %v", name, err)
		}
	}
}
