package example

import (
	"testing"

	"hasim/ctrl"
)

// FuzzFleet is the fixed operator's check as a fuzz target: each input is
// a case (a seed and a fault schedule) as rapid draws it.
//
//	cd ctrl && go test -run '^$' -fuzz FuzzFleet -fuzztime 10m -fuzzminimizetime 1x ./example
//
// Nearly every case reaches code no case before it did, and the fuzzer
// minimizes each such input for -fuzzminimizetime [60s], which here
// leaves it running almost nothing else; with 1x it ran 493 cases in 2
// minutes on 2 cores (4 a second); hasim shrinks a failing case's
// schedule itself.
func FuzzFleet(f *testing.F) { ctrl.Fuzz(f, Setup(Bugs{})) }
