package schema

import (
	"strings"

	"github.com/openconfig/goyang/pkg/yang"
)

// applyRefines applies the default, mandatory and min/max-elements
// substatements of 'refine' (RFC 7950 §7.13.2), which goyang parses but
// does not apply. The templates of secgw-ike take their defaults this way:
// the grouping they share with a VPN's inline policy has none, so that an
// unset leaf of a VPN inherits its template's value.
//
// ygot generates its Go code with goyang too, so the generated getters and
// PopulateDefaults do not know these defaults either: read defaults from
// this package (Default), never from generated getters.
func applyRefines(e *yang.Entry, seen map[*yang.Entry]bool) {
	if e == nil || seen[e] {
		return
	}
	seen[e] = true
	for _, u := range usesOf(e.Node) {
		for _, r := range u.Refine {
			t := e
			for _, step := range strings.Split(r.Name, "/") {
				if i := strings.IndexByte(step, ':'); i >= 0 {
					step = step[i+1:]
				}
				if t = Child(t, step); t == nil {
					break
				}
			}
			if t == nil {
				continue
			}
			if r.Default != nil {
				t.Default = []string{r.Default.Name}
			}
			if r.Mandatory != nil {
				if r.Mandatory.Name == "true" {
					t.Mandatory = yang.TSTrue
				} else {
					t.Mandatory = yang.TSFalse
				}
			}
		}
	}
	for _, c := range e.Dir {
		applyRefines(c, seen)
	}
}

// usesOf returns the uses statements of a schema statement. goyang leaves
// Entry.Uses empty, so the AST is read directly.
func usesOf(n yang.Node) []*yang.Uses {
	switch n := n.(type) {
	case *yang.Container:
		return n.Uses
	case *yang.List:
		return n.Uses
	case *yang.Augment:
		return n.Uses
	case *yang.Case:
		return n.Uses
	case *yang.Input:
		return n.Uses
	case *yang.Output:
		return n.Uses
	case *yang.Module:
		return n.Uses
	}
	return nil
}
