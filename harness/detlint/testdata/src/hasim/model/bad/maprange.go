package bad

import (
	"maps"
	m2 "maps"
)

type Registry map[string]int

type nested Registry

func mapRange(m map[string]int, r Registry, n nested, p *Registry) {
	for k := range m { // want `range over map \(map\[string\]int\) visits keys in randomized order; range over sorted keys instead`
		_ = k
	}
	for k, v := range r { // want `range over map \(Registry\)`
		_, _ = k, v
	}
	for range n { // want `range over map \(nested\)`
	}
	for range *p { // want `range over map \(Registry\)`
	}
	for range map[int]bool{} { // want `range over map`
	}
	for k := range maps.Keys(m) { // want `range over maps.Keys visits the map in its randomized iteration order; range over sorted keys instead`
		_ = k
	}
	for v := range maps.Values(r) { // want `range over maps.Values`
		_ = v
	}
	for k, v := range m2.All(m) { // want `range over maps.All`
		_, _ = k, v
	}
	for k := range (maps.Keys[map[string]int])(m) { // want `range over maps.Keys`
		_ = k
	}
}

// Generic map types: type parameters whose type set is maps.
func genericRange[M ~map[K]V, K comparable, V any](m M) {
	for k := range m { // want `range over map \(M\)`
		_ = k
	}
}

type mapConstraint[K comparable, V any] interface {
	~map[K]V
}

func genericRange2[M mapConstraint[K, V], K comparable, V any](m M) {
	for range m { // want `range over map \(M\)`
	}
}

func genericRange3[M map[string]int](m M) {
	for range m { // want `range over map \(M\)`
	}
}

type GenericMap[K comparable, V any] map[K]V

func genericNamed(g GenericMap[string, int]) {
	for range g { // want `range over map \(GenericMap\[string, int\]\)`
	}
}
