package checkers

import (
	"strconv"
	"strings"
	"testing"

	"hasim/harness"
)

func TestKeyTally(t *testing.T) {
	ok := harness.Verdict{Status: harness.OK, Detail: "fine"}
	bad := func(i int) harness.Verdict {
		return harness.Verdict{Status: harness.Violated, Detail: "lost write " + strconv.Itoa(i)}
	}
	nothing := harness.Verdict{Status: harness.Unknown, Detail: "nothing to judge: no read"}
	timeout := harness.Verdict{Status: harness.Unknown, Detail: "undecided: timed out"}

	var quiet KeyTally
	quiet.Add("a", nothing, 2)
	if v := quiet.Verdict("sum", nil); v.Status != harness.Unknown || !strings.Contains(v.Detail, "nothing to judge on 1 keys (2 ops)") {
		t.Fatalf("only nothing-to-judge keys: %s %s", v.Status, v.Detail)
	}

	good := KeyTally{Check: "c"}
	good.Add("a", ok, 3)
	good.Add("b", nothing, 1)
	if v := good.Verdict("all fine", nil); v.Status != harness.OK || v.Detail != "all fine" || v.Check != "c" || good.Ops != 4 || good.Keys != 2 {
		t.Fatalf("ok keys: %+v, tally %+v", v, good)
	}
	if v := good.Verdict("all fine", []string{"client 1 went back"}); v.Status != harness.Violated || v.Detail != "client 1 went back" {
		t.Fatalf("extra problems: %+v", v)
	}

	unsure := good
	unsure.Add("c", timeout, 1)
	if v := unsure.Verdict("x", nil); v.Status != harness.Unknown || !strings.Contains(v.Detail, "c: undecided") {
		t.Fatalf("an undecided key: %+v", v)
	}

	var many KeyTally
	for i := range 8 {
		many.Add("k"+strconv.Itoa(i), bad(i), 1)
	}
	many.Add("z", timeout, 1)
	v := many.Verdict("x", []string{"extra"})
	if v.Status != harness.Violated || !strings.HasPrefix(v.Detail, "8 of 9 keys (k0, k1, k2, k3, k4 and 3 more); first: lost write 0; extra") {
		t.Fatalf("violations: %+v", v)
	}
	if len(many.badKeys) > exampleCap {
		t.Fatalf("kept %d keys, want at most %d", len(many.badKeys), exampleCap)
	}
}
