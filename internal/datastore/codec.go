package datastore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"secgw/generated"
	"secgw/internal/schema"
)

// The on-disk form of a configuration: JSON shaped like RFC 7951 without
// module prefixes, every leaf value a string in its canonical lexical form.
// It is written and read through the schema bindings, which is some fifty
// times faster than ygot's JSON at 10k VPNs (load time is restart time).
//
//	{"format": "secgw-config/1", "data": {"vrf": [{"name": "main", "ike": {...}}]}}
const formatName = "secgw-config/1"

type fileForm struct {
	Format string          `json:"format"`
	Commit uint64          `json:"commit"` // the last commit the snapshot holds
	Data   json.RawMessage `json:"data"`
	// Confirm is the confirmed commit pending when the snapshot was
	// taken, if any: the journal that held its commits is emptied after
	// the snapshot, so the snapshot must carry what a revert undoes.
	Confirm *confirmForm `json:"confirm,omitempty"`
}

// confirmForm is a pending confirmed commit in a snapshot.
type confirmForm struct {
	// Undo holds the inverse operations of the commits made since the
	// confirmed commit began, oldest first.
	Undo [][]op `json:"undo"`
	// Model is commitRecord's Model of the ops.
	Model int `json:"model,omitempty"`
}

// encodeConfig serializes the configuration nodes of d.
func encodeConfig(s *schema.Schema, d *generated.Device, commit uint64) []byte {
	b, _ := encodeSnapshot(s, d, commit, nil) // fails only on a pending commit's ops
	return b
}

// encodeSnapshot is encodeConfig with the pending confirmed commit c
// (nil: none).
func encodeSnapshot(s *schema.Schema, d *generated.Device, commit uint64, c *pendingConfirm) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"format":"` + formatName + `","commit":` + strconv.FormatUint(commit, 10) + `,"data":`)
	encodeNode(s, &b, s.RootNode(d))
	if c != nil {
		undo, err := json.Marshal(confirmForm{Undo: c.undo, Model: modelNACM})
		if err != nil {
			return nil, fmt.Errorf("datastore: encoding the pending confirmed commit: %w", err)
		}
		b.WriteString(`,"confirm":`)
		b.Write(undo)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

func encodeNode(s *schema.Schema, b *bytes.Buffer, n schema.Node) {
	encodeNodeOpt(s, b, n, false)
}

// encodeNodeOpt writes node n; with leavesOnly, only its own leaves and
// leaf-lists (an update's payload).
func encodeNodeOpt(s *schema.Schema, b *bytes.Buffer, n schema.Node, leavesOnly bool) {
	b.WriteByte('{')
	first := true
	sep := func(name string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
	}
	for i := range n.B.Fields {
		f := &n.B.Fields[i]
		if !f.Config || !n.Has(f) {
			continue
		}
		if leavesOnly && (f.Kind == schema.KindContainer || f.Kind == schema.KindList) {
			continue
		}
		switch f.Kind {
		case schema.KindLeaf:
			if v, ok := n.Leaf(s, f); ok {
				sep(f.Name)
				b.WriteString(strconv.Quote(v))
			}
		case schema.KindLeafList:
			sep(f.Name)
			b.WriteByte('[')
			for j, v := range n.LeafList(s, f) {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Quote(v))
			}
			b.WriteByte(']')
		case schema.KindContainer:
			c, _ := n.Container(f, false)
			sep(f.Name)
			encodeNode(s, b, c)
		case schema.KindList:
			sep(f.Name)
			b.WriteByte('[')
			for j, e := range n.Entries(f) {
				if j > 0 {
					b.WriteByte(',')
				}
				encodeNode(s, b, e)
			}
			b.WriteByte(']')
		}
	}
	b.WriteByte('}')
}
