// Package model holds hasim's simulated components and the wiring shared by
// its scenarios. Each component is a step machine on the harness kernel.
//
// Bug switches plant a known class of bug in a component, so that every
// checker can be shown to catch something real: a checker that cannot fail
// is a defect. Switches are off unless a run names them.
package model

import (
	"encoding/json"
	"fmt"
	"hasim/harness"
	"sort"
	"strings"
)

// Bug describes one bug switch.
type Bug struct {
	Name string
	// Plants says, in one line, what the switch does to the component.
	Plants string
	// Caught names the checks expected to report it (a check family, as
	// single-active, stands for each of its instances).
	Caught []harness.CheckName
	// Scenarios are those whose components the switch changes; the first
	// is its home, where Caught reports it. A run of another scenario
	// rejects the switch.
	Scenarios []string
}

var registry []Bug

// Register adds a bug switch; components call it from an init function.
func Register(b Bug) {
	if len(b.Scenarios) == 0 {
		panic("hasim: bug switch " + b.Name + " names no scenario")
	}
	for _, o := range registry {
		if o.Name == b.Name {
			panic("hasim: bug switch registered twice: " + b.Name)
		}
	}
	registry = append(registry, b)
	sort.Slice(registry, func(i, j int) bool { return registry[i].Name < registry[j].Name })
}

// AllBugs returns every registered bug switch, sorted by name.
func AllBugs() []Bug { return append([]Bug(nil), registry...) }

// Bugs is the set of switches turned on for a run.
type Bugs struct{ on []string }

// ParseBugs turns a list of names into a set, rejecting unknown names.
func ParseBugs(names []string) (Bugs, error) {
	var b Bugs
	for _, n := range names {
		known := false
		for _, r := range registry {
			known = known || r.Name == n
		}
		if !known {
			var all []string
			for _, r := range registry {
				all = append(all, r.Name)
			}
			return Bugs{}, fmt.Errorf("bug: unknown switch %q (known: %s)", n, strings.Join(all, ", "))
		}
		if !b.Has(n) {
			b.on = append(b.on, n)
		}
	}
	sort.Strings(b.on)
	return b, nil
}

// MustBugs is ParseBugs for names fixed in code (tests).
func MustBugs(names ...string) Bugs {
	b, err := ParseBugs(names)
	if err != nil {
		panic(err)
	}
	return b
}

// Has reports whether the switch is on.
func (b Bugs) Has(name string) bool {
	for _, n := range b.on {
		if n == name {
			return true
		}
	}
	return false
}

// Lookup returns the registered switch of that name.
func Lookup(name string) (Bug, bool) {
	for _, r := range registry {
		if r.Name == name {
			return r, true
		}
	}
	return Bug{}, false
}

// Names returns the switches that are on, sorted.
func (b Bugs) Names() []string { return append([]string(nil), b.on...) }

// String prints the set as a comma-separated list ("" when empty).
func (b Bugs) String() string { return strings.Join(b.on, ",") }

// MarshalJSON writes the set as a list of names.
func (b Bugs) MarshalJSON() ([]byte, error) {
	if b.on == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(b.on)
}

// UnmarshalJSON reads a list of names, rejecting unknown ones.
func (b *Bugs) UnmarshalJSON(data []byte) error {
	var names []string
	if err := json.Unmarshal(data, &names); err != nil {
		return fmt.Errorf("bugs: %v", err)
	}
	nb, err := ParseBugs(names)
	if err != nil {
		return err
	}
	*b = nb
	return nil
}
