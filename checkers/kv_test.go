package checkers

import (
	"strings"
	"testing"

	"hasim/harness"
)

func TestCheckLinearizableFromInitial(t *testing.T) {
	// x held "a" (mod 3, create 2, version 2) before the history.
	x := KVInitial{Key: "x", Found: true, Value: "a", Mod: 3, Create: 2, Version: 2}
	for _, tc := range []struct {
		name    string
		initial []KVInitial
		ops     []KVOp
		want    harness.Status
	}{
		{"a get reads it", []KVInitial{x}, []KVOp{lGet(1, "x", 0, 1, "a", 3, 2, 2)}, harness.OK},
		{"a get with another mod", []KVInitial{x}, []KVOp{lGet(1, "x", 0, 1, "a", 4, 2, 2)}, harness.Violated},
		{"a get that does not find it", []KVInitial{x}, []KVOp{lGetNone(1, "x", 0, 1)}, harness.Violated},
		{"a put bumps the version, keeps create", []KVInitial{x}, []KVOp{
			lPut(1, "x", "b", 0, 1, 4),
			lGet(1, "x", 2, 3, "b", 4, 2, 3),
		}, harness.OK},
		{"a put's revision must exceed the initial mod", []KVInitial{x}, []KVOp{lPut(1, "x", "b", 0, 1, 3)}, harness.Violated},
		{"a cas on the initial mod", []KVInitial{x}, []KVOp{lCas(1, "x", 3, "b", 0, 1, 5)}, harness.OK},
		{"a create-cas fails on an existing key", []KVInitial{x}, []KVOp{lCas(1, "x", 0, "b", 0, 1, 5)}, harness.Violated},
		{"a failed cas reads it", []KVInitial{x}, []KVOp{lCasFail(1, "x", 9, "b", 0, 1, "a", 3, 2, 2)}, harness.OK},
		{"a delete removes it", []KVInitial{x}, []KVOp{
			lDel(1, "x", 0, 1, 1, 4),
			lGetNone(1, "x", 2, 3),
			lPut(1, "x", "c", 4, 5, 6),
			lGet(1, "x", 6, 7, "c", 6, 6, 1),
		}, harness.OK},
		{"a delete that found nothing", []KVInitial{x}, []KVOp{lDel(1, "x", 0, 1, 0, 4)}, harness.Violated},
		{"an indeterminate put lands", []KVInitial{x}, []KVOp{
			lIndet(lPut(2, "x", "b", 0, 0, 0)),
			lGet(1, "x", 2, 3, "b", 9, 2, 3),
		}, harness.OK},
		{"each key from its own state", []KVInitial{x, {Key: "y", Found: true, Value: "p", Mod: 1, Create: 1, Version: 1}}, []KVOp{
			lGet(1, "x", 0, 1, "a", 3, 2, 2),
			lGet(1, "y", 0, 1, "p", 1, 1, 1),
			lGetNone(1, "z", 0, 1),
		}, harness.OK},
		{"one key's state is not another's", []KVInitial{x}, []KVOp{lGet(1, "y", 0, 1, "a", 3, 2, 2)}, harness.Violated},
		{"stated absent", []KVInitial{{Key: "x"}}, []KVOp{lGet(1, "x", 0, 1, "a", 3, 2, 2)}, harness.Violated},
		{"no initial states is CheckLinearizable", nil, []KVOp{lPut(1, "x", "a", 0, 1, 2), lGet(1, "x", 2, 3, "a", 2, 2, 1)}, harness.OK},

		// Initial states that cannot be judged.
		{"no key", []KVInitial{{Found: true, Value: "a", Mod: 1, Create: 1, Version: 1}}, nil, harness.Unknown},
		{"found without a mod", []KVInitial{{Key: "x", Found: true, Create: 1, Version: 1}}, nil, harness.Unknown},
		{"absent with a mod", []KVInitial{{Key: "x", Mod: 1}}, nil, harness.Unknown},
		{"version 1, create ≠ mod", []KVInitial{{Key: "x", Found: true, Mod: 3, Create: 2, Version: 1}}, nil, harness.Unknown},
		{"two states for a key", []KVInitial{x, {Key: "x"}}, []KVOp{lGetNone(1, "x", 0, 1)}, harness.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := CheckLinearizableFrom(tc.initial, tc.ops, LinearizableOptions{})
			if v.Status != tc.want {
				t.Fatalf("got %s %q, want %s", v.Status, v.Detail, tc.want)
			}
			if v.Status == harness.Unknown && !strings.HasPrefix(v.Detail, "cannot judge: initial state #") {
				t.Fatalf("unknown for another reason: %s", v.Detail)
			}
		})
	}
}

// Where no op linearizes, the stuck state is the key's initial one.
func TestCheckLinearizableFromDescribesInitial(t *testing.T) {
	x := KVInitial{Key: "x", Found: true, Value: "a", Mod: 3, Create: 2, Version: 2}
	v, rep := CheckLinearizableFrom([]KVInitial{x}, []KVOp{lGet(1, "x", 0, 1, "b", 3, 2, 2)}, LinearizableOptions{})
	if v.Status != harness.Violated || len(rep.Problems) != 1 ||
		!strings.Contains(rep.Problems[0], `key "x": at most 0 of its 1 ops linearize, leaving the key in its initial state`) {
		t.Fatalf("%s %s", v.Status, v.Detail)
	}
	// After a step, the state itself.
	v, rep = CheckLinearizableFrom([]KVInitial{x}, []KVOp{
		lGet(1, "x", 0, 1, "a", 3, 2, 2),
		lGet(1, "x", 2, 3, "b", 3, 2, 2),
	}, LinearizableOptions{})
	if v.Status != harness.Violated || len(rep.Problems) != 1 ||
		!strings.Contains(rep.Problems[0], `leaving the key "a" mod=3 create=2 ver=2`) {
		t.Fatalf("%s %s", v.Status, v.Detail)
	}
	// Only absent keys stated: described as absent.
	v, rep = CheckLinearizableFrom([]KVInitial{{Key: "x"}}, []KVOp{lGet(1, "x", 0, 1, "a", 3, 2, 2)}, LinearizableOptions{})
	if v.Status != harness.Violated || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "leaving the key absent") {
		t.Fatalf("%s %s", v.Status, v.Detail)
	}
}

// Times at or past the bound cannot be ordered against +∞ without wrapping
// around: a checker called directly says unknown instead of a wrong verdict.
func TestLinearizableRefusesHugeTimes(t *testing.T) {
	ops := []KVOp{{Client: 1, Kind: KVPut, Key: "x", Value: "a", Start: 0, End: MaxHistoryTime, Revision: 2}}
	v, _ := CheckLinearizable(ops, LinearizableOptions{})
	if v.Status != harness.Unknown || !strings.Contains(v.Detail, "cannot be judged") {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
}
