package checkers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

// Helpers: times in milliseconds.

func lt(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func lPut(c int, key, v string, s, e int, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVPut, Key: key, Value: v, Start: lt(s), End: lt(e), Revision: rev}
}

func lGet(c int, key string, s, e int, got string, mod, create, ver int64) KVOp {
	return KVOp{Client: c, Kind: KVGet, Key: key, Start: lt(s), End: lt(e), Found: true, Got: got, Mod: mod, Create: create, Version: ver}
}

func lGetNone(c int, key string, s, e int) KVOp {
	return KVOp{Client: c, Kind: KVGet, Key: key, Start: lt(s), End: lt(e)}
}

func lDel(c int, key string, s, e int, deleted, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVDelete, Key: key, Start: lt(s), End: lt(e), Deleted: deleted, Revision: rev}
}

func lCas(c int, key string, expect int64, v string, s, e int, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVCas, Key: key, ExpectMod: expect, Value: v, Start: lt(s), End: lt(e), Succeeded: true, Revision: rev}
}

// lCasFail is a cas that failed and read the key (found with got/mod/...,
// or absent when got is "").
func lCasFail(c int, key string, expect int64, v string, s, e int, got string, mod, create, ver int64) KVOp {
	op := KVOp{Client: c, Kind: KVCas, Key: key, ExpectMod: expect, Value: v, Start: lt(s), End: lt(e)}
	if got != "" {
		op.Found, op.Got, op.Mod, op.Create, op.Version = true, got, mod, create, ver
	}
	return op
}

// lIndet turns an op into an indeterminate one called at s.
func lIndet(op KVOp) KVOp {
	return KVOp{Client: op.Client, Kind: op.Kind, Key: op.Key, Value: op.Value, ExpectMod: op.ExpectMod, Start: op.Start, Indeterminate: true}
}

func lFailed(op KVOp) KVOp {
	op.Failed = true
	return op
}

func TestLinearizableKV(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []KVOp
		want harness.Status
	}{
		{"every op kind, sequential", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lGet(1, "x", 2, 3, "a", 2, 2, 1),
			lPut(2, "x", "b", 4, 5, 3),
			lGet(2, "x", 6, 7, "b", 3, 2, 2),
			lDel(1, "x", 8, 9, 1, 4),
			lGetNone(2, "x", 10, 11),
			lDel(2, "x", 12, 13, 0, 4),
			lCas(1, "x", 0, "c", 14, 15, 5),
			lGet(1, "x", 16, 17, "c", 5, 5, 1),
			lCas(2, "x", 5, "d", 18, 19, 6),
			lCasFail(1, "x", 5, "e", 20, 21, "d", 6, 5, 2),
			lCasFail(1, "y", 3, "e", 20, 21, "", 0, 0, 0),
			lDel(3, "y", 0, 1, 0, 1),
		}, harness.OK},
		{"concurrent puts read in their revision order", []KVOp{
			lPut(1, "x", "a", 0, 10, 2),
			lPut(2, "x", "b", 0, 10, 3),
			lGet(3, "x", 5, 6, "a", 2, 2, 1),
			lGet(3, "x", 7, 8, "b", 3, 2, 2),
			lGet(4, "x", 11, 12, "b", 3, 2, 2),
		}, harness.OK},
		{"stale read after an acknowledged put", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lPut(1, "x", "b", 2, 3, 3),
			lGet(2, "x", 4, 5, "a", 2, 2, 1),
		}, harness.Violated},
		{"concurrent puts read in an impossible order", []KVOp{
			lPut(1, "x", "a", 0, 10, 2),
			lPut(2, "x", "b", 0, 10, 3),
			lGet(3, "x", 5, 6, "b", 3, 2, 2),
			lGet(3, "x", 7, 8, "a", 2, 2, 1),
		}, harness.Violated},
		{"cas concurrent with the put that changed the mod", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lPut(2, "x", "b", 2, 10, 4),
			lCas(1, "x", 2, "c", 3, 5, 3),
			lGet(3, "x", 11, 12, "b", 4, 2, 3),
		}, harness.OK},
		{"cas succeeded although the mod revision had changed", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lPut(2, "x", "b", 2, 3, 3),
			lCas(1, "x", 2, "c", 4, 5, 4),
		}, harness.Violated},
		{"cas failed although the mod revision matched", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lCasFail(1, "x", 2, "c", 4, 5, "a", 2, 2, 1),
		}, harness.Violated},
		{"cas creating a key that exists", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lCas(1, "x", 0, "c", 4, 5, 3),
		}, harness.Violated},
		{"delete reported deleted=1 on a missing key", []KVOp{
			lGetNone(1, "x", 0, 1),
			lDel(1, "x", 2, 3, 1, 5),
		}, harness.Violated},
		{"delete reported deleted=0 on an existing key", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lDel(1, "x", 2, 3, 0, 2),
		}, harness.Violated},
		{"key read back after its delete", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lDel(1, "x", 2, 3, 1, 3),
			lGet(2, "x", 4, 5, "a", 2, 2, 1),
		}, harness.Violated},
		{"revisions going backwards on one key", []KVOp{
			lPut(1, "x", "a", 0, 1, 5),
			lPut(1, "x", "b", 2, 3, 4),
		}, harness.Violated},
		{"a put's revision not above the delete before it", []KVOp{
			lPut(1, "x", "a", 0, 1, 5),
			lDel(1, "x", 2, 3, 1, 7),
			lPut(1, "x", "b", 4, 5, 6),
		}, harness.Violated},
		{"version not counting writes", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lPut(1, "x", "b", 2, 3, 3),
			lGet(1, "x", 4, 5, "b", 3, 2, 1),
		}, harness.Violated},
		{"version 1 with create != mod", []KVOp{
			lIndet(lPut(1, "x", "a", 0, 0, 0)),
			lGet(2, "x", 4, 5, "a", 3, 2, 1),
		}, harness.Violated},
		{"indeterminate put that later shows up in a read", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lGet(2, "x", 10, 11, "b", 7, 2, 2),
			lPut(2, "x", "c", 12, 13, 8),
			lGet(2, "x", 14, 15, "c", 8, 2, 3),
		}, harness.OK},
		{"indeterminate put shows up, then a revision below the one read", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lGet(2, "x", 10, 11, "b", 7, 2, 2),
			lPut(2, "x", "c", 12, 13, 6),
		}, harness.Violated},
		{"indeterminate put that never shows up", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lGet(2, "x", 10, 11, "a", 2, 2, 1),
			lGet(2, "x", 20, 21, "a", 2, 2, 1),
		}, harness.OK},
		{"indeterminate put whose value appears before its call", []KVOp{
			lGet(2, "x", 0, 1, "b", 3, 3, 1),
			lIndet(lPut(1, "x", "b", 5, 0, 0)),
		}, harness.Violated},
		{"indeterminate put seen, then unseen", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lGet(2, "x", 3, 4, "b", 5, 2, 2),
			lGet(2, "x", 5, 6, "a", 2, 2, 1),
		}, harness.Violated},
		{"indeterminate put creating the key, seen later", []KVOp{
			lIndet(lPut(1, "x", "a", 0, 0, 0)),
			lGetNone(2, "x", 1, 2),
			lGet(2, "x", 3, 4, "a", 9, 9, 1),
		}, harness.OK},
		{"indeterminate cas that took effect", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lCas(1, "x", 2, "b", 3, 0, 0)),
			lGet(2, "x", 5, 6, "b", 9, 2, 2),
		}, harness.OK},
		{"indeterminate cas with the wrong mod cannot take effect", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lCas(1, "x", 7, "b", 3, 0, 0)),
			lGet(2, "x", 5, 6, "b", 9, 2, 2),
		}, harness.Violated},
		{"cas on a mod left unknown by an indeterminate put", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lCas(2, "x", 6, "c", 5, 6, 7),
			lGet(2, "x", 7, 8, "c", 7, 2, 3),
		}, harness.OK},
		{"failed cas reads a mod left unknown", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lPut(1, "x", "b", 2, 0, 0)),
			lCasFail(2, "x", 2, "c", 5, 6, "b", 6, 2, 2),
		}, harness.OK},
		{"indeterminate delete that took effect", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lDel(1, "x", 2, 0, 0, 0)),
			lGetNone(2, "x", 5, 6),
			lPut(2, "x", "b", 7, 8, 4),
		}, harness.OK},
		{"put after an indeterminate delete reuses its revision", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lIndet(lDel(1, "x", 2, 0, 0, 0)),
			lGetNone(2, "x", 5, 6),
			lPut(2, "x", "b", 7, 8, 3),
		}, harness.Violated},
		{"failed ops ignored", []KVOp{
			lPut(1, "x", "a", 0, 1, 2),
			lFailed(lPut(2, "x", "z", 2, 3, 0)),
			lFailed(lGet(3, "x", 2, 3, "garbage", 99, 99, 99)),
			lFailed(lDel(3, "x", 4, 5, 0, 0)),
			lGet(1, "x", 6, 7, "a", 2, 2, 1),
		}, harness.OK},
		{"nothing to check", []KVOp{lFailed(lGetNone(1, "x", 0, 1))}, harness.Unknown},
		{"malformed: a completed put without revision", []KVOp{lPut(1, "x", "a", 0, 1, 0)}, harness.Unknown},
		{"malformed: return before call", []KVOp{lPut(1, "x", "a", 5, 1, 2)}, harness.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, rep := CheckLinearizable(tc.ops, LinearizableOptions{})
			if v.Check != "linearizability" || v.Status != tc.want {
				t.Fatalf("got %s %q, want %s", v.Status, v.Detail, tc.want)
			}
			if tc.want == harness.Violated && (len(rep.FailingKeys) == 0 || len(rep.Problems) != len(rep.FailingKeys)) {
				t.Fatalf("violated without failing keys: %+v", rep)
			}
			t.Logf("%s: %s", v.Status, v.Detail)
		})
	}
}

func TestLinearizableReport(t *testing.T) {
	ops := []KVOp{
		lPut(1, "x", "a", 0, 1, 2),
		lGet(2, "x", 2, 3, "a", 2, 2, 1),
		lPut(1, "y", "p", 0, 1, 3),
		lPut(1, "y", "q", 2, 3, 4),
		lGet(2, "y", 4, 5, "p", 3, 3, 1),
		lIndet(lPut(3, "z", "i", 0, 0, 0)),
		lFailed(lGetNone(3, "x", 9, 10)),
	}
	v, rep := CheckLinearizable(ops, LinearizableOptions{})
	if v.Status != harness.Violated {
		t.Fatalf("got %s %s", v.Status, v.Detail)
	}
	if rep.Ops != 6 || rep.Indeterminate != 1 || rep.Failed != 1 || rep.Keys != 3 || rep.HTMLPath != "" {
		t.Errorf("report %+v", rep)
	}
	if len(rep.FailingKeys) != 1 || rep.FailingKeys[0] != "y" {
		t.Errorf("failing keys %q, want [y]", rep.FailingKeys)
	}
	for _, want := range []string{`1 of 3 keys ("y")`, "6 ops (1 indeterminate) on 3 keys", "1 failed ops ignored",
		`key "y": at most 2 of its 3 ops linearize`, `c1 put "y" "q" -> rev=4`, `leaving the key "q" mod=4`,
		`c2 get "y" -> "p" mod=3 ver=1 [4ms, 5ms]`} {
		if !strings.Contains(v.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, v.Detail)
		}
	}
	v, rep = CheckLinearizable(ops[:2], LinearizableOptions{})
	if v.Status != harness.OK || !strings.Contains(v.Detail, "2 ops (0 indeterminate) on 1 keys") || rep.Ops != 2 {
		t.Errorf("ok detail: %s %s %+v", v.Status, v.Detail, rep)
	}
}

func TestLinearizableHTML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "view.html")
	ops := []KVOp{
		lPut(1, "x", "a", 0, 1, 2),
		lPut(1, "x", "b", 2, 3, 3),
		lGet(2, "x", 4, 5, "a", 2, 2, 1),
		lIndet(lPut(2, "x", "c", 6, 0, 0)),
	}
	ann := []Annotation{
		{Start: lt(1), End: lt(4), Tag: "faults", Description: "partition m1 from m2 m3"},
		{Start: lt(2), End: lt(2), Tag: "raft leader", Description: "m2 became leader"},
		{Start: lt(3), End: lt(3), Description: "untagged note"},
	}
	v, rep := CheckLinearizable(ops, LinearizableOptions{HTMLPath: path, Annotations: ann})
	if v.Status != harness.Violated || rep.HTMLPath != path || !strings.Contains(v.Detail, "view: "+path) {
		t.Fatalf("got %s %q, report %+v", v.Status, v.Detail, rep)
	}
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"partition m1 from m2 m3", "m2 became leader", "untagged note", "raft leader",
		`c2 get \"x\" -\u003e \"a\" mod=2 ver=1`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the view lacks %q", want)
		}
	}

	// No view for a linearizable history.
	okPath := filepath.Join(dir, "ok.html")
	v, rep = CheckLinearizable(ops[:2], LinearizableOptions{HTMLPath: okPath, Annotations: ann})
	if v.Status != harness.OK || rep.HTMLPath != "" {
		t.Fatalf("got %s %q, report %+v", v.Status, v.Detail, rep)
	}
	if _, err := os.Stat(okPath); !os.IsNotExist(err) {
		t.Errorf("a view was written for an ok history: %v", err)
	}

	// A view that cannot be written: still violated, and said so.
	bad := filepath.Join(dir, "no-such-dir", "view.html")
	v, rep = CheckLinearizable(ops, LinearizableOptions{HTMLPath: bad})
	if v.Status != harness.Violated || rep.HTMLPath != "" || !strings.Contains(v.Detail, "could not write the view") {
		t.Fatalf("got %s %q, report %+v", v.Status, v.Detail, rep)
	}
}

// hardHistory is linearizable, but only with the first-called of n
// concurrent indeterminate puts applied last: porcupine tries that put
// first and explores about n·2^n states before it finds the order.
func hardHistory(n int) []KVOp {
	var ops []KVOp
	for i := 0; i < n; i++ {
		ops = append(ops, lIndet(lPut(i, "x", "v"+string(rune('A'+i)), i, 0, 0)))
	}
	return append(ops, lGet(n, "x", n+10, n+11, "vA", 1000, 500, int64(n)))
}

func TestLinearizableTimeoutIsUnknown(t *testing.T) {
	// The small version is decided, and linearizable.
	if v, _ := CheckLinearizable(hardHistory(6), LinearizableOptions{}); v.Status != harness.OK {
		t.Fatalf("6 puts: got %s %s", v.Status, v.Detail)
	}
	path := filepath.Join(t.TempDir(), "view.html")
	begin := time.Now()
	v, rep := CheckLinearizable(hardHistory(40), LinearizableOptions{Timeout: 50 * time.Millisecond, HTMLPath: path})
	if v.Status != harness.Unknown || rep.Undecided != 1 || !strings.Contains(v.Detail, "timed out") {
		t.Fatalf("got %s %q, report %+v", v.Status, v.Detail, rep)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("a 50ms timeout took %s", d)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a view was written for an undecided history")
	}
}

func reg(c int, kind RegisterKind, s, e int) RegisterOp {
	return RegisterOp{Client: c, Kind: kind, Start: lt(s), End: lt(e)}
}

func rWrite(c int, v string, s, e int) RegisterOp {
	op := reg(c, RegisterWrite, s, e)
	op.Value = v
	return op
}

func rRead(c int, v string, s, e int) RegisterOp {
	op := reg(c, RegisterRead, s, e)
	op.Value = v
	op.None = v == ""
	return op
}

func rCas(c int, from, to string, ok bool, s, e int) RegisterOp {
	op := reg(c, RegisterCas, s, e)
	op.From, op.To, op.OK = from, to, ok
	return op
}

func rInfo(op RegisterOp) RegisterOp {
	op.Indeterminate, op.End, op.OK, op.None = true, 0, false, false
	if op.Kind == RegisterRead {
		op.Value = ""
	}
	return op
}

func TestLinearizableRegister(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []RegisterOp
		want harness.Status
	}{
		{"jepsen ok", []RegisterOp{
			rRead(0, "", 0, 2),
			rWrite(1, "1", 1, 10),
			rRead(2, "1", 3, 4),
			rCas(0, "1", "2", true, 11, 12),
			rCas(1, "1", "3", false, 11, 13),
			rRead(2, "2", 14, 15),
		}, harness.OK},
		{"concurrent write and reads either side", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rWrite(1, "2", 2, 10),
			rRead(2, "1", 3, 4),
			rRead(2, "2", 5, 6),
			rRead(3, "2", 11, 12),
		}, harness.OK},
		{"read of a value never written", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rRead(1, "3", 2, 3),
		}, harness.Violated},
		{"empty read after a write completed", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rRead(1, "", 2, 3),
		}, harness.Violated},
		{"stale read", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rWrite(0, "2", 2, 3),
			rRead(1, "1", 4, 5),
		}, harness.Violated},
		{"cas succeeded on another value", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rCas(1, "2", "3", true, 2, 3),
		}, harness.Violated},
		{"cas failed although the value matched", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rCas(1, "1", "3", false, 2, 3),
		}, harness.Violated},
		{"info write shows up later", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rInfo(rWrite(1, "2", 2, 0)),
			rRead(2, "1", 3, 4),
			rRead(2, "2", 5, 6),
		}, harness.OK},
		{"info cas shows up, then a read goes back", []RegisterOp{
			rWrite(0, "1", 0, 1),
			rInfo(rCas(1, "1", "2", false, 2, 0)),
			rRead(2, "2", 3, 4),
			rRead(2, "1", 5, 6),
		}, harness.Violated},
		{"failed write ignored", []RegisterOp{
			rWrite(0, "1", 0, 1),
			{Client: 1, Kind: RegisterWrite, Value: "9", Start: lt(2), Failed: true},
			rRead(2, "1", 3, 4),
		}, harness.OK},
		{"independent registers", []RegisterOp{
			{Client: 0, Kind: RegisterWrite, Key: "a", Value: "1", Start: lt(0), End: lt(1)},
			{Client: 0, Kind: RegisterWrite, Key: "b", Value: "2", Start: lt(2), End: lt(3)},
			{Client: 1, Kind: RegisterRead, Key: "a", Value: "1", Start: lt(4), End: lt(5)},
			{Client: 1, Kind: RegisterRead, Key: "c", None: true, Start: lt(4), End: lt(5)},
		}, harness.OK},
		{"malformed: unknown kind", []RegisterOp{{Kind: "append"}}, harness.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := CheckRegister(tc.ops, LinearizableOptions{})
			if v.Status != tc.want {
				t.Fatalf("got %s %q, want %s", v.Status, v.Detail, tc.want)
			}
			t.Logf("%s: %s", v.Status, v.Detail)
		})
	}
}
