package example

import (
	"testing"

	"hasim/ctrl"
)

// FuzzFleet is the fixed operator's check as a fuzz target: each input is
// a case (a seed and a fault schedule) as rapid draws it.
//
//	cd ctrl && go test -run '^$' -fuzz FuzzFleet -fuzztime 10m ./example
func FuzzFleet(f *testing.F) { ctrl.Fuzz(f, Setup(Bugs{})) }
