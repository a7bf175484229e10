package userspace

import (
	"maps"
	"math/rand/v2"
	"testing"
)

// TestPMap: random sets and deletes agree with a Go map, with hashes that
// spread (hashU32), that share long prefixes and that collide outright;
// every earlier version stays as it was (persistence), also when one edit
// token changes its own nodes in place over many ops.
func TestPMap(t *testing.T) {
	for _, c := range []struct {
		name string
		hash func(uint32) uint64
	}{
		{"spread", hashU32},
		{"shared-prefix", func(k uint32) uint64 { return uint64(k%7) | uint64(k%3)<<60 }},
		{"colliding", func(k uint32) uint64 { return uint64(k % 4) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			m := newPMap[uint32, int](c.hash)
			want := map[uint32]int{}
			type version struct {
				m    pmap[uint32, int]
				want map[uint32]int
			}
			var versions []version
			for batch := range 200 {
				e := new(edit)
				for range r.IntN(20) + 1 {
					k := uint32(r.IntN(300))
					if r.IntN(3) == 0 {
						_, had := want[k]
						if m.del(e, k) != had {
							t.Fatalf("del %d: reported %v", k, !had)
						}
						delete(want, k)
					} else {
						m.set(e, k, batch)
						want[k] = batch
					}
				}
				versions = append(versions, version{m, maps.Clone(want)})
			}
			for i, v := range versions {
				checkPMap(t, i, &v.m, v.want)
			}
		})
	}
}

func checkPMap(t *testing.T, version int, m *pmap[uint32, int], want map[uint32]int) {
	t.Helper()
	if m.len() != len(want) {
		t.Fatalf("version %d: len %d, want %d", version, m.len(), len(want))
	}
	for k := range uint32(300) {
		v, ok := m.get(k)
		if w, wok := want[k]; ok != wok || v != w {
			t.Fatalf("version %d: get %d = %d %v, want %d %v", version, k, v, ok, w, wok)
		}
	}
	got := map[uint32]int{}
	for k, v := range m.all() {
		got[k] = v
	}
	if !maps.Equal(got, want) {
		t.Fatalf("version %d: all() = %v, want %v", version, got, want)
	}
}

// TestPMapEditCopiesOnce: a batch copies each shared node once, then
// changes its own copy in place.
func TestPMapEditCopiesOnce(t *testing.T) {
	m := newPMap[uint32, int](hashU32)
	e := new(edit)
	for k := range uint32(1000) {
		m.set(e, k, 0)
	}
	if e.copied != 0 {
		t.Errorf("building a new map copied %d slots", e.copied)
	}
	e = new(edit)
	m.set(e, 1, 1)
	first := e.copied
	m.set(e, 1, 2)
	if first == 0 || e.copied != first {
		t.Errorf("copied %d slots for the first update, %d in all after a second one of the same key", first, e.copied)
	}
}

func TestPMapGetNoAlloc(t *testing.T) {
	m := newPMap[uint32, int](hashU32)
	e := new(edit)
	for k := range uint32(1000) {
		m.set(e, k, int(k))
	}
	if n := testing.AllocsPerRun(100, func() { m.get(500) }); n != 0 {
		t.Errorf("get allocates %v times", n)
	}
}
