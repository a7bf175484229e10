// Package ptr reads the optional leaves of the generated YANG structs
// (generated/), which are pointers: nil, a leaf the reply did not carry,
// reads as the zero value. The CLI's renderers and the metrics collector
// walk the same state trees and share this one reader.
package ptr

// Val is *p, or T's zero value when p is nil.
func Val[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// To is a pointer to a copy of v: an optional leaf set to v.
func To[T any](v T) *T { return &v }
