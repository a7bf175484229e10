package config

import (
	"hash/maphash"
	"iter"
	"maps"
)

// nShards is the number of shards of a cowMap: a commit of one VPN into
// 100k copies one shard of about 400 entries per index it changes.
const nShards = 256

// shardSeed spreads the keys over the shards; it is per process, and
// never leaves it.
var shardSeed = maphash.MakeSeed()

// cowMap is a map split in shards that the configurations derived from
// one another share (copy on write): derive returns a copy that shares
// every shard, and the copy clones a shard the first time it writes to
// it. A Config's maps are written only while Apply builds it; once
// published they are read-only, by any number of goroutines.
type cowMap[K comparable, V any] struct {
	s [nShards]map[K]V
	// owned marks the shards this copy cloned (or made) and may write.
	owned [nShards / 64]uint64
}

func shardOf[K comparable](k K) int { return int(maphash.Comparable(shardSeed, k) % nShards) }

// derive returns a copy of m sharing all its shards.
func (m *cowMap[K, V]) derive() *cowMap[K, V] { return &cowMap[K, V]{s: m.s} }

func (m *cowMap[K, V]) get(k K) (V, bool) {
	v, ok := m.s[shardOf(k)][k]
	return v, ok
}

// writable returns shard i, cloned first unless m owns it.
func (m *cowMap[K, V]) writable(i int) map[K]V {
	if m.owned[i/64]&(1<<(i%64)) == 0 {
		n := make(map[K]V, len(m.s[i])+1)
		maps.Copy(n, m.s[i])
		m.s[i] = n
		m.owned[i/64] |= 1 << (i % 64)
	}
	return m.s[i]
}

func (m *cowMap[K, V]) set(k K, v V) {
	m.writable(shardOf(k))[k] = v
}

func (m *cowMap[K, V]) del(k K) {
	i := shardOf(k)
	if _, ok := m.s[i][k]; !ok {
		return
	}
	delete(m.writable(i), k)
}

// all yields the entries, in no order.
func (m *cowMap[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for _, s := range m.s {
			for k, v := range s {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}
