package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func mvPut(k, v string) Op    { return Op{Kind: OpPut, Key: k, Value: v} }
func mvDel(k string) Op       { return Op{Kind: OpDelete, Key: k} }
func mvDelPrefix(k string) Op { return Op{Kind: OpDelete, Key: k, Prefix: true} }
func mvGet(k string) Op       { return Op{Kind: OpRange, Key: k} }
func mvScan(k string) Op      { return Op{Kind: OpRange, Key: k, Prefix: true} }

// mvDo applies ops as an unconditional txn and fails the test on error.
func mvDo(t *testing.T, s *MVCC, ops ...Op) TxnResult {
	t.Helper()
	r, err := s.Apply(Txn{Success: ops})
	if err != nil {
		t.Fatalf("apply %v: %v", ops, err)
	}
	return r
}

// mvAll returns every live key at rev (0: latest).
func mvAll(t *testing.T, s *MVCC, rev int64) []KeyValue {
	t.Helper()
	r, err := s.Range(Op{Kind: OpRange, Prefix: true, Revision: rev})
	if err != nil {
		t.Fatalf("range all at %d: %v", rev, err)
	}
	return r.KVs
}

func mvKV(k, v string, create, mod, ver int64) KeyValue {
	return KeyValue{Key: k, Value: v, CreateRevision: create, ModRevision: mod, Version: ver}
}

func mvSame(a, b []KeyValue) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func TestMVCCPutDeleteSequence(t *testing.T) {
	s := NewMVCC()
	if s.Rev() != 1 || s.CompactRev() != 0 || len(mvAll(t, s, 0)) != 0 {
		t.Fatalf("new store: rev %d compact %d", s.Rev(), s.CompactRev())
	}
	steps := []struct {
		op   Op
		rev  int64
		want []KeyValue
	}{
		{mvPut("a", "1"), 2, []KeyValue{mvKV("a", "1", 2, 2, 1)}},
		{mvPut("a", "2"), 3, []KeyValue{mvKV("a", "2", 2, 3, 2)}},
		{mvPut("b", "1"), 4, []KeyValue{mvKV("a", "2", 2, 3, 2), mvKV("b", "1", 4, 4, 1)}},
		{mvDel("a"), 5, []KeyValue{mvKV("b", "1", 4, 4, 1)}},
		{mvPut("a", "3"), 6, []KeyValue{mvKV("a", "3", 6, 6, 1), mvKV("b", "1", 4, 4, 1)}},
		{mvDel("zz"), 6, []KeyValue{mvKV("a", "3", 6, 6, 1), mvKV("b", "1", 4, 4, 1)}},
		{mvDel("a"), 7, []KeyValue{mvKV("b", "1", 4, 4, 1)}},
		{mvDel("a"), 7, []KeyValue{mvKV("b", "1", 4, 4, 1)}},
		{mvDelPrefix("c"), 7, []KeyValue{mvKV("b", "1", 4, 4, 1)}},
		{mvPut("b", "1"), 8, []KeyValue{mvKV("b", "1", 4, 8, 2)}},
		{mvPut("ba", ""), 9, []KeyValue{mvKV("b", "1", 4, 8, 2), mvKV("ba", "", 9, 9, 1)}},
		{mvDelPrefix(""), 10, nil},
		{mvPut("b", "x"), 11, []KeyValue{mvKV("b", "x", 11, 11, 1)}},
	}
	for i, st := range steps {
		r := mvDo(t, s, st.op)
		if r.Revision != st.rev || s.Rev() != st.rev {
			t.Fatalf("step %d %v: revision %d/%d, want %d", i, st.op, r.Revision, s.Rev(), st.rev)
		}
		if got := mvAll(t, s, 0); !mvSame(got, st.want) {
			t.Fatalf("step %d %v: state %v, want %v", i, st.op, got, st.want)
		}
	}
}

func TestMVCCNoWriteNoBump(t *testing.T) {
	s := NewMVCC()
	mvDo(t, s, mvPut("a", "1"))
	h := s.Hash()
	cases := []Txn{
		{Success: []Op{mvDel("b")}},
		{Success: []Op{mvDelPrefix("b")}},
		{Success: []Op{mvGet("a"), mvDel("x"), mvDel("y")}},
		{Success: nil},
		{Compares: []Compare{{Key: "a", Target: TargetVersion, Result: Equal, Num: 9}}, Success: []Op{mvPut("a", "2")}, Failure: []Op{mvGet("a")}},
		{Compares: []Compare{{Key: "a", Target: TargetVersion, Result: Equal, Num: 9}}, Success: []Op{mvPut("a", "2")}},
	}
	for _, c := range cases {
		r, err := s.Apply(c)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if r.Revision != 2 || s.Rev() != 2 || s.Hash() != h {
			t.Fatalf("%v: revision %d, store changed", c, r.Revision)
		}
	}
	ev, err := s.Events("", true, 1)
	if err != nil || len(ev) != 1 {
		t.Fatalf("events %v %v, want only the put", ev, err)
	}
}

func TestTxnCompares(t *testing.T) {
	s := NewMVCC()
	mvDo(t, s, mvPut("a", "m"))
	mvDo(t, s, mvPut("a", "m")) // a: create 2, mod 3, version 2
	mvDo(t, s, mvPut("gone", "x"), mvDel("gone"))
	type cmp = Compare
	cases := []struct {
		c    cmp
		want bool
	}{
		{cmp{"a", TargetVersion, Equal, 2, ""}, true},
		{cmp{"a", TargetVersion, Equal, 3, ""}, false},
		{cmp{"a", TargetVersion, NotEqual, 2, ""}, false},
		{cmp{"a", TargetVersion, NotEqual, 1, ""}, true},
		{cmp{"a", TargetVersion, Less, 3, ""}, true},
		{cmp{"a", TargetVersion, Less, 2, ""}, false},
		{cmp{"a", TargetVersion, Greater, 1, ""}, true},
		{cmp{"a", TargetVersion, Greater, 2, ""}, false},
		{cmp{"a", TargetCreate, Equal, 2, ""}, true},
		{cmp{"a", TargetCreate, Equal, 3, ""}, false},
		{cmp{"a", TargetCreate, NotEqual, 3, ""}, true},
		{cmp{"a", TargetCreate, NotEqual, 2, ""}, false},
		{cmp{"a", TargetCreate, Less, 3, ""}, true},
		{cmp{"a", TargetCreate, Less, 2, ""}, false},
		{cmp{"a", TargetCreate, Greater, 1, ""}, true},
		{cmp{"a", TargetCreate, Greater, 2, ""}, false},
		{cmp{"a", TargetMod, Equal, 3, ""}, true},
		{cmp{"a", TargetMod, Equal, 2, ""}, false},
		{cmp{"a", TargetMod, NotEqual, 2, ""}, true},
		{cmp{"a", TargetMod, NotEqual, 3, ""}, false},
		{cmp{"a", TargetMod, Less, 4, ""}, true},
		{cmp{"a", TargetMod, Less, 3, ""}, false},
		{cmp{"a", TargetMod, Greater, 2, ""}, true},
		{cmp{"a", TargetMod, Greater, 3, ""}, false},
		{cmp{"a", TargetValue, Equal, 0, "m"}, true},
		{cmp{"a", TargetValue, Equal, 0, "n"}, false},
		{cmp{"a", TargetValue, NotEqual, 0, "n"}, true},
		{cmp{"a", TargetValue, NotEqual, 0, "m"}, false},
		{cmp{"a", TargetValue, Less, 0, "n"}, true},
		{cmp{"a", TargetValue, Less, 0, "m"}, false},
		{cmp{"a", TargetValue, Less, 0, "mm"}, true},
		{cmp{"a", TargetValue, Greater, 0, "l"}, true},
		{cmp{"a", TargetValue, Greater, 0, "m"}, false},
		{cmp{"a", TargetValue, Greater, 0, ""}, true},
	}
	// A missing key (never written, or deleted) compares as 0 and has no value.
	for _, k := range []string{"missing", "gone"} {
		cases = append(cases, []struct {
			c    cmp
			want bool
		}{
			{cmp{k, TargetVersion, Equal, 0, ""}, true},
			{cmp{k, TargetVersion, NotEqual, 0, ""}, false},
			{cmp{k, TargetVersion, Less, 1, ""}, true},
			{cmp{k, TargetVersion, Greater, 0, ""}, false},
			{cmp{k, TargetVersion, Greater, -1, ""}, true},
			{cmp{k, TargetCreate, Equal, 0, ""}, true},
			{cmp{k, TargetCreate, NotEqual, 2, ""}, true},
			{cmp{k, TargetCreate, Less, 0, ""}, false},
			{cmp{k, TargetCreate, Greater, 0, ""}, false},
			{cmp{k, TargetMod, Equal, 0, ""}, true},
			{cmp{k, TargetMod, NotEqual, 0, ""}, false},
			{cmp{k, TargetMod, Less, 5, ""}, true},
			{cmp{k, TargetMod, Greater, 0, ""}, false},
			{cmp{k, TargetValue, Equal, 0, ""}, false},
			{cmp{k, TargetValue, NotEqual, 0, ""}, false},
			{cmp{k, TargetValue, NotEqual, 0, "x"}, false},
			{cmp{k, TargetValue, Less, 0, "zzz"}, false},
			{cmp{k, TargetValue, Greater, 0, ""}, false},
		}...)
	}
	for _, c := range cases {
		before := s.Rev()
		txn := Txn{Compares: []Compare{c.c}, Success: []Op{mvPut("out", "then")}, Failure: []Op{mvGet("a")}}
		r, err := s.Apply(txn)
		if err != nil {
			t.Fatalf("%v: %v", txn, err)
		}
		if r.Succeeded != c.want {
			t.Errorf("%s: succeeded %v, want %v", mvccCompareString(c.c), r.Succeeded, c.want)
		}
		wantRev := before
		if c.want {
			wantRev++
		}
		if r.Revision != wantRev || len(r.Results) != 1 {
			t.Errorf("%s: revision %d results %d, want %d 1", mvccCompareString(c.c), r.Revision, len(r.Results), wantRev)
		}
		if !c.want && (len(r.Results[0].KVs) != 1 || r.Results[0].KVs[0].Key != "a") {
			t.Errorf("%s: failure branch result %+v", mvccCompareString(c.c), r.Results[0])
		}
	}
	// Every compare must hold; no compares means success.
	all := []Compare{{"a", TargetVersion, Equal, 2, ""}, {"missing", TargetMod, Equal, 0, ""}}
	r, _ := s.Apply(Txn{Compares: all})
	if !r.Succeeded {
		t.Errorf("two true compares failed")
	}
	r, _ = s.Apply(Txn{Compares: append(all, Compare{"a", TargetValue, Equal, 0, "zz"})})
	if r.Succeeded {
		t.Errorf("true, true, false compares succeeded")
	}
	if r, _ = s.Apply(Txn{}); !r.Succeeded {
		t.Errorf("empty txn failed")
	}
}

func TestTxnReadYourWrites(t *testing.T) {
	s := NewMVCC()
	mvDo(t, s, mvPut("a", "0"), mvPut("b", "0")) // rev 2
	r := mvDo(t, s,
		mvGet("a"), // 0: before any write: a@2
		Op{Kind: OpPut, Key: "a", Value: "1", PrevKV: true}, // 1
		mvGet("a"), // 2: sees the put
		Op{Kind: OpPut, Key: "a", Value: "2", PrevKV: true}, // 3: prev is the txn's own put
		mvGet("a"),                                 // 4
		Op{Kind: OpRange, Key: "a", Revision: 2},   // 5: explicit old revision
		Op{Kind: OpDelete, Key: "b", PrevKV: true}, // 6
		mvScan(""),        // 7
		mvPut("b", "new"), // 8: recreated in the same txn
		mvScan(""),        // 9
		Op{Kind: OpPut, Key: "c", Value: "c", PrevKV: true}, // 10: new key: no prev
	)
	if r.Revision != 3 || !r.Succeeded || len(r.Results) != 11 {
		t.Fatalf("result %+v", r)
	}
	want := [][]KeyValue{
		{mvKV("a", "0", 2, 2, 1)},
		{mvKV("a", "0", 2, 2, 1)},
		{mvKV("a", "1", 2, 3, 2)},
		{mvKV("a", "1", 2, 3, 2)},
		{mvKV("a", "2", 2, 3, 3)},
		{mvKV("a", "0", 2, 2, 1)},
		{mvKV("b", "0", 2, 2, 1)},
		{mvKV("a", "2", 2, 3, 3)},
		nil,
		{mvKV("a", "2", 2, 3, 3), mvKV("b", "new", 3, 3, 1)},
		nil,
	}
	for i, w := range want {
		if !mvSame(r.Results[i].KVs, w) {
			t.Errorf("result %d: %v, want %v", i, r.Results[i].KVs, w)
		}
	}
	if r.Results[6].Deleted != 1 {
		t.Errorf("delete count %d", r.Results[6].Deleted)
	}
	got := mvAll(t, s, 0)
	wantAll := []KeyValue{mvKV("a", "2", 2, 3, 3), mvKV("b", "new", 3, 3, 1), mvKV("c", "c", 3, 3, 1)}
	if !mvSame(got, wantAll) {
		t.Fatalf("after txn %v, want %v", got, wantAll)
	}
	// Reading at the store revision before the txn's own new revision is
	// the previous state, and the new revision is still "future" inside it.
	h := s.Hash()
	_, err := s.Apply(Txn{Success: []Op{mvPut("a", "x"), {Kind: OpRange, Key: "a", Revision: 4}}})
	if !errors.Is(err, ErrFutureRev) || s.Hash() != h {
		t.Fatalf("range at own new revision: err %v, changed %v", err, s.Hash() != h)
	}
	// Only the executed branch's reads are checked.
	r, err = s.Apply(Txn{
		Compares: []Compare{{Key: "a", Target: TargetMod, Result: Equal, Num: 3}},
		Success:  []Op{mvPut("d", "d")},
		Failure:  []Op{{Kind: OpRange, Key: "a", Revision: 99}},
	})
	if err != nil || r.Revision != 4 {
		t.Fatalf("unexecuted branch read: %v %+v", err, r)
	}
}

func TestTxnInvalid(t *testing.T) {
	s := NewMVCC()
	mvDo(t, s, mvPut("a", "1"))
	h := s.Hash()
	bad := []Txn{
		{Success: []Op{{Kind: 0, Key: "a"}}},
		{Success: []Op{{Kind: 9, Key: "a"}}},
		{Success: []Op{mvPut("", "x")}},
		{Success: []Op{mvPut("b", "x"), mvGet("")}},
		{Failure: []Op{mvDel("")}},
		{Success: []Op{{Kind: OpPut, Key: "a", Prefix: true}}},
		{Success: []Op{{Kind: OpDelete, Key: "a", Value: "v"}}},
		{Success: []Op{{Kind: OpPut, Key: "a", Revision: 1}}},
		{Success: []Op{{Kind: OpRange, Key: "a", PrevKV: true}}},
		{Success: []Op{{Kind: OpRange, Key: "a", Limit: -1}}},
		{Success: []Op{{Kind: OpRange, Key: "a", Revision: -1}}},
		{Compares: []Compare{{Key: "a", Target: 0, Result: Equal}}},
		{Compares: []Compare{{Key: "a", Target: TargetMod, Result: 7}}},
		{Success: []Op{mvPut("b", "x"), {Kind: OpRange, Key: "a", Revision: 3}}},
	}
	for _, txn := range bad {
		if _, err := s.Apply(txn); err == nil {
			t.Errorf("%v: no error", txn)
		}
		if s.Hash() != h || s.Rev() != 2 {
			t.Fatalf("%v: store changed", txn)
		}
	}
	if _, err := s.Range(mvPut("a", "x")); err == nil {
		t.Errorf("Range of a put: no error")
	}
}

func TestRangeRevisionsLimitPrefix(t *testing.T) {
	s := NewMVCC()
	var snaps [][]KeyValue // snaps[r] = state at revision r
	snaps = append(snaps, nil, nil)
	for _, ops := range [][]Op{
		{mvPut("foo", "1")},                        // 2
		{mvPut("foo/a", "1"), mvPut("foo/b", "1")}, // 3
		{mvPut("fop", "1"), mvPut("fo", "1")},      // 4
		{mvPut("foo/a", "2")},                      // 5
		{mvDel("foo")},                             // 6
		{mvDelPrefix("foo/")},                      // 7
		{mvPut("foo/c", "1"), mvPut("g", "")},      // 8
	} {
		mvDo(t, s, ops...)
		snaps = append(snaps, mvAll(t, s, 0))
	}
	if s.Rev() != 8 {
		t.Fatalf("rev %d", s.Rev())
	}
	for r := int64(1); r <= 8; r++ {
		if got := mvAll(t, s, r); !mvSame(got, snaps[r]) {
			t.Errorf("at %d: %v, want %v", r, got, snaps[r])
		}
	}
	keys := func(kvs []KeyValue) string {
		var ks []string
		for _, kv := range kvs {
			ks = append(ks, kv.Key)
		}
		return strings.Join(ks, ",")
	}
	cases := []struct {
		op    Op
		keys  string
		count int64
		more  bool
	}{
		{Op{Kind: OpRange, Key: "foo", Prefix: true, Revision: 5}, "foo,foo/a,foo/b", 3, false},
		{Op{Kind: OpRange, Key: "foo", Prefix: true, Revision: 5, Limit: 2}, "foo,foo/a", 3, true},
		{Op{Kind: OpRange, Key: "foo", Prefix: true, Revision: 5, Limit: 3}, "foo,foo/a,foo/b", 3, false},
		{Op{Kind: OpRange, Key: "foo/", Prefix: true, Revision: 5, Limit: 1}, "foo/a", 2, true},
		{Op{Kind: OpRange, Key: "fo", Prefix: true, Revision: 4}, "fo,foo,foo/a,foo/b,fop", 5, false},
		{Op{Kind: OpRange, Key: "fo", Prefix: true}, "fo,foo/c,fop", 3, false},
		{Op{Kind: OpRange, Key: "fo", Revision: 3}, "", 0, false},
		{Op{Kind: OpRange, Key: "foo", Revision: 5}, "foo", 1, false},
		{Op{Kind: OpRange, Key: "foo", Revision: 6}, "", 0, false},
		{Op{Kind: OpRange, Key: "foo", Prefix: true, Revision: 7}, "", 0, false},
		{Op{Kind: OpRange, Prefix: true, Limit: 1}, "fo", 4, true},
		{Op{Kind: OpRange, Key: "h", Prefix: true}, "", 0, false},
		{Op{Kind: OpRange, Key: "", Prefix: true, Revision: 1}, "", 0, false},
	}
	for _, c := range cases {
		r, err := s.Range(c.op)
		if err != nil {
			t.Fatalf("%v: %v", c.op, err)
		}
		if keys(r.KVs) != c.keys || r.Count != c.count || r.More != c.more {
			t.Errorf("%v: keys %q count %d more %v, want %q %d %v", c.op, keys(r.KVs), r.Count, r.More, c.keys, c.count, c.more)
		}
	}
	// foo/a at revision 5 has its second version.
	r, _ := s.Range(Op{Kind: OpRange, Key: "foo/a", Revision: 5})
	if !mvSame(r.KVs, []KeyValue{mvKV("foo/a", "2", 3, 5, 2)}) {
		t.Errorf("foo/a@5 = %v", r.KVs)
	}
	if _, err := s.Range(Op{Kind: OpRange, Key: "a", Revision: 9}); !errors.Is(err, ErrFutureRev) {
		t.Errorf("future read: %v", err)
	}
	if _, err := s.Apply(Txn{Success: []Op{{Kind: OpRange, Key: "a", Revision: 9}}}); !errors.Is(err, ErrFutureRev) {
		t.Errorf("future read in txn: %v", err)
	}
}

func TestCompact(t *testing.T) {
	s := NewMVCC()
	if err := s.Compact(2); !errors.Is(err, ErrFutureRev) {
		t.Fatalf("compact future: %v", err)
	}
	if err := s.Compact(0); !errors.Is(err, ErrCompacted) {
		t.Fatalf("compact 0: %v", err)
	}
	snaps := [][]KeyValue{nil, nil}
	for _, op := range []Op{
		mvPut("a", "1"), // 2
		mvPut("a", "2"), // 3
		mvPut("b", "1"), // 4
		mvDel("a"),      // 5
		mvPut("c", "1"), // 6
		mvPut("c", "2"), // 7
		mvPut("a", "3"), // 8
		mvDel("b"),      // 9
	} {
		mvDo(t, s, op)
		snaps = append(snaps, mvAll(t, s, 0))
	}
	check := func(compact int64) {
		t.Helper()
		if s.CompactRev() != compact {
			t.Fatalf("compact rev %d, want %d", s.CompactRev(), compact)
		}
		for r := int64(1); r <= s.Rev(); r++ {
			kvs, err := s.Range(Op{Kind: OpRange, Prefix: true, Revision: r})
			if r < compact {
				if !errors.Is(err, ErrCompacted) {
					t.Errorf("compact %d: read at %d: %v", compact, r, err)
				}
				if _, err := s.Apply(Txn{Success: []Op{{Kind: OpRange, Key: "a", Revision: r}}}); !errors.Is(err, ErrCompacted) {
					t.Errorf("compact %d: txn read at %d: %v", compact, r, err)
				}
				continue
			}
			if err != nil || !mvSame(kvs.KVs, snaps[r]) {
				t.Errorf("compact %d: read at %d: %v %v, want %v", compact, r, kvs.KVs, err, snaps[r])
			}
		}
		if got := mvAll(t, s, 0); !mvSame(got, snaps[s.Rev()]) {
			t.Errorf("compact %d: latest %v", compact, got)
		}
	}
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	check(4)
	// a: versions at 3 (needed by reads at 4) and later; b and c untouched.
	if got := s.index["a"].entries; len(got) != 3 || got[0].rev != 3 {
		t.Errorf("a history after compact 4: %+v", got)
	}
	for _, rev := range []int64{4, 3, 0, -1} {
		if err := s.Compact(rev); !errors.Is(err, ErrCompacted) {
			t.Errorf("compact %d again: %v", rev, err)
		}
	}
	if err := s.Compact(10); !errors.Is(err, ErrFutureRev) {
		t.Errorf("compact 10: %v", err)
	}
	if err := s.Compact(5); err != nil {
		t.Fatal(err)
	}
	check(5)
	if got := s.index["a"].entries; len(got) != 1 || got[0].rev != 8 {
		t.Errorf("a history after compact 5 (tombstone at 5 dropped): %+v", got)
	}
	if err := s.Compact(9); err != nil {
		t.Fatal(err)
	}
	check(9)
	if _, ok := s.index["b"]; ok || len(s.keys) != 2 {
		t.Errorf("b deleted at 9 survives compact 9: %d keys", len(s.keys))
	}
	if len(s.events) != 0 {
		t.Errorf("events at or before the compaction kept: %v", s.events)
	}
	// Writes after compaction continue the revision and versions.
	r := mvDo(t, s, mvPut("c", "3"))
	if r.Revision != 10 || !mvSame(mvAll(t, s, 0), []KeyValue{mvKV("a", "3", 8, 8, 1), mvKV("c", "3", 6, 10, 3)}) {
		t.Errorf("after compaction: %+v %v", r, mvAll(t, s, 0))
	}
}

func TestCompactBoundsMemory(t *testing.T) {
	s := NewMVCC()
	for i := 0; i < 2000; i++ {
		mvDo(t, s, mvPut("k", fmt.Sprint(i)), mvPut(fmt.Sprintf("tmp%d", i%7), "x"))
		mvDo(t, s, mvDel(fmt.Sprintf("tmp%d", i%7)))
		if err := s.Compact(s.Rev() - 1); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, h := range s.keys {
			total += len(h.entries)
		}
		if total > 4 || len(s.events) > 1 || len(s.keys) > 2 {
			t.Fatalf("iteration %d: %d entries, %d events, %d keys retained", i, total, len(s.events), len(s.keys))
		}
	}
	if kv := mvAll(t, s, 0); len(kv) != 1 || kv[0].Version != 2000 || kv[0].CreateRevision != 2 {
		t.Fatalf("k = %v", kv)
	}
}

func TestEvents(t *testing.T) {
	s := NewMVCC()
	mvDo(t, s, mvPut("b", "1"))                                     // 2
	mvDo(t, s, mvPut("c", "1"), mvPut("a", "1"), mvPut("b/x", "1")) // 3: events in key order
	mvDo(t, s, mvDel("zz"))                                         // no event
	mvDo(t, s, mvDelPrefix("b"))                                    // 4: b, b/x
	mvDo(t, s, mvPut("b", "2"), mvDel("b"), mvPut("b", "3"))        // 5: same key, op order
	want := []string{
		`put k="b" v="1" create=2 mod=2 ver=1`,
		`put k="a" v="1" create=3 mod=3 ver=1`,
		`put k="b/x" v="1" create=3 mod=3 ver=1`,
		`put k="c" v="1" create=3 mod=3 ver=1`,
		`delete k="b" mod=4`,
		`delete k="b/x" mod=4`,
		`put k="b" v="2" create=5 mod=5 ver=1`,
		`delete k="b" mod=5`,
		`put k="b" v="3" create=5 mod=5 ver=1`,
	}
	str := func(evs []Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.String())
		}
		return out
	}
	evs, err := s.Events("", true, 1)
	if err != nil || !reflect.DeepEqual(str(evs), want) {
		t.Fatalf("all events %v\n%s\nwant\n%s", err, strings.Join(str(evs), "\n"), strings.Join(want, "\n"))
	}
	if e := evs[4]; e.Type != EventDelete || e.KV != (KeyValue{Key: "b", ModRevision: 4}) {
		t.Errorf("delete event %+v", e)
	}
	cases := []struct {
		key    string
		prefix bool
		from   int64
		want   []string
	}{
		{"", true, 3, want[1:]},
		{"", true, 5, want[6:]},
		{"", true, 6, nil},
		{"", true, 100, nil},
		{"", true, 0, nil},
		{"b", false, 1, []string{want[0], want[4], want[6], want[7], want[8]}},
		{"b", true, 3, []string{want[2], want[4], want[5], want[6], want[7], want[8]}},
		{"b/", true, 1, []string{want[2], want[5]}},
		{"a", false, 4, nil},
		{"", false, 1, nil},
	}
	for _, c := range cases {
		got, err := s.Events(c.key, c.prefix, c.from)
		if err != nil || !reflect.DeepEqual(str(got), c.want) {
			t.Errorf("Events(%q, %v, %d) = %v %v, want %v", c.key, c.prefix, c.from, str(got), err, c.want)
		}
	}
	if _, err := s.Events("", true, -1); err == nil {
		t.Errorf("negative fromRev: no error")
	}
	if err := s.Compact(3); err != nil {
		t.Fatal(err)
	}
	for _, from := range []int64{1, 2, 3} {
		if _, err := s.Events("", true, from); !errors.Is(err, ErrCompacted) {
			t.Errorf("events from %d after compact 3: %v", from, err)
		}
	}
	if got, err := s.Events("", true, 4); err != nil || !reflect.DeepEqual(str(got), want[4:]) {
		t.Errorf("events from 4 after compact 3: %v %v", str(got), err)
	}
	if got, _ := s.Events("", true, 0); got != nil {
		t.Errorf("fromRev 0: %v", got)
	}
}

func TestMVCCStrings(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{mvKV("a", "x", 3, 5, 2).String(), `k="a" v="x" create=3 mod=5 ver=2`},
		{mvPut("a", "").String(), `put k="a" v=""`},
		{Op{Kind: OpPut, Key: "a\n", Value: "x y", PrevKV: true}.String(), `put k="a\n" v="x y" prevkv`},
		{Op{Kind: OpRange, Key: "p", Prefix: true, Revision: 4, Limit: 2}.String(), `range k="p" prefix rev=4 limit=2`},
		{Op{Kind: OpDelete, Key: "p", Prefix: true, PrevKV: true}.String(), `delete k="p" prefix prevkv`},
		{Op{Kind: 9, Key: "p"}.String(), `op(9) k="p"`},
		{Event{Type: EventDelete, KV: KeyValue{Key: "a", ModRevision: 7}}.String(), `delete k="a" mod=7`},
		{Txn{}.String(), `txn if() then() else()`},
		{Txn{
			Compares: []Compare{{Key: "a", Target: TargetMod, Result: Equal, Num: 0}, {Key: "b", Target: TargetValue, Result: NotEqual, Value: "v"},
				{Key: "c", Target: TargetVersion, Result: Less, Num: 3}, {Key: "d", Target: TargetCreate, Result: Greater, Num: 1}},
			Success: []Op{mvPut("a", "1"), mvGet("b")},
			Failure: []Op{mvGet("a")},
		}.String(), `txn if(mod("a")=0 && value("b")!="v" && ver("c")<3 && create("d")>1) then(put k="a" v="1"; range k="b") else(range k="a")`},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	if (Txn{Success: []Op{mvGet("a")}, Failure: []Op{mvGet("b")}}).IsWrite() {
		t.Errorf("read-only txn IsWrite")
	}
	if !(Txn{Failure: []Op{mvDel("b")}}).IsWrite() || !(Txn{Success: []Op{mvGet("b"), mvPut("a", "")}}).IsWrite() {
		t.Errorf("write txn not IsWrite")
	}
}

// mvSample builds a store with history, tombstones, a compaction and events.
func mvSample(t testing.TB) *MVCC {
	s := NewMVCC()
	for _, txn := range []Txn{
		{Success: []Op{mvPut("a", "1"), mvPut("b", "1")}},
		{Success: []Op{mvPut("a", "2")}},
		{Success: []Op{mvDel("b")}},
		{Success: []Op{mvPut("b", "x"), mvPut("c/1", "\x00\xff")}},
		{Success: []Op{mvPut("d", "d"), mvDel("d")}},
		{Success: []Op{mvDel("a"), mvPut("a", "again"), mvPut("a", "again2")}},
		{Success: []Op{mvPut("c/2", "")}},
	} {
		if _, err := s.Apply(txn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	mvDoTB(t, s, mvPut("b", "y"))
	return s
}

func mvDoTB(t testing.TB, s *MVCC, ops ...Op) {
	if _, err := s.Apply(Txn{Success: ops}); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		s    *MVCC
	}{{"empty", NewMVCC()}, {"sample", mvSample(t)}} {
		name, s := c.name, c.s
		b := s.Marshal()
		if !bytes.Equal(b, s.Marshal()) {
			t.Fatalf("%s: Marshal not deterministic", name)
		}
		u, err := UnmarshalMVCC(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if u.Hash() != s.Hash() || !bytes.Equal(u.Marshal(), b) || u.Rev() != s.Rev() || u.CompactRev() != s.CompactRev() {
			t.Fatalf("%s: round trip differs", name)
		}
		if len(s.Hash()) != 64 {
			t.Fatalf("hash %q", s.Hash())
		}
		for r := s.CompactRev(); r <= s.Rev(); r++ {
			if r == 0 {
				continue
			}
			if a, b := mvAll(t, s, r), mvAll(t, u, r); !mvSame(a, b) {
				t.Fatalf("%s at %d: %v vs %v", name, r, a, b)
			}
		}
		ea, _ := s.Events("", true, s.CompactRev()+1)
		eb, _ := u.Events("", true, u.CompactRev()+1)
		if !reflect.DeepEqual(ea, eb) {
			t.Fatalf("%s: events differ", name)
		}
		for _, st := range []*MVCC{s, u} {
			mvDo(t, st, mvPut("a", "more"), mvDelPrefix("c/"))
			mvDo(t, st, mvPut("z", "z"))
			if err := st.Compact(st.Rev() - 1); err != nil {
				t.Fatal(err)
			}
			mvDo(t, st, mvPut("a", "last"))
		}
		if u.Hash() != s.Hash() {
			t.Fatalf("%s: hashes diverge after more writes", name)
		}
	}
	if NewMVCC().Hash() == mvSample(t).Hash() {
		t.Fatalf("different states, same hash")
	}
}

func TestUnmarshalMVCCCorrupt(t *testing.T) {
	good := mvSample(t).Marshal()
	for n := 0; n < len(good); n++ {
		if _, err := UnmarshalMVCC(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := UnmarshalMVCC(append(append([]byte(nil), good...), 0)); err == nil {
		t.Fatalf("trailing byte: no error")
	}
	for _, b := range [][]byte{nil, []byte("garbage"), []byte(mvccMagic), []byte(mvccMagic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
		[]byte(mvccMagic + "\x00\x00\x00\x00"), []byte(mvccMagic + "\x02\x03\x00\x00"), []byte(mvccMagic + "\x02\x00\xff\xff\xff\x0f")} {
		if _, err := UnmarshalMVCC(b); err == nil {
			t.Errorf("%q: no error", b)
		}
	}
	// Every single-bit flip either fails or yields a canonical, usable store.
	accepted := 0
	for i := range good {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), good...)
			b[i] ^= 1 << bit
			s, err := UnmarshalMVCC(b)
			if err != nil {
				continue
			}
			accepted++
			if !bytes.Equal(s.Marshal(), b) {
				t.Fatalf("flip %d/%d: accepted non-canonical input", i, bit)
			}
			mvExercise(s)
		}
	}
	t.Logf("%d of %d bit flips accepted (value bytes)", accepted, 8*len(good))
}

// mvExercise runs every operation once on s; it must not panic.
func mvExercise(s *MVCC) {
	_, _ = s.Range(Op{Kind: OpRange, Prefix: true})
	_, _ = s.Range(Op{Kind: OpRange, Prefix: true, Revision: s.CompactRev()})
	_, _ = s.Events("", true, s.CompactRev()+1)
	_, _ = s.Apply(Txn{Compares: []Compare{{Key: "a", Target: TargetMod, Result: Greater}}, Success: []Op{mvPut("a", "f"), mvDelPrefix("c")}, Failure: []Op{mvDelPrefix("")}})
	_ = s.Compact(s.Rev())
	_, _ = UnmarshalMVCC(s.Marshal())
}

func FuzzUnmarshalMVCC(f *testing.F) {
	f.Add(NewMVCC().Marshal())
	f.Add(mvSample(f).Marshal())
	f.Add([]byte("garbage"))
	f.Add([]byte(mvccMagic + "\x02\x00\x01\x01a\x01\x02\x00\x01x\x02\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalMVCC(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatalf("accepted non-canonical input")
		}
		h := s.Hash()
		u, err := UnmarshalMVCC(s.Marshal())
		if err != nil || u.Hash() != h {
			t.Fatalf("re-unmarshal: %v", err)
		}
		mvExercise(s)
		if _, err := UnmarshalMVCC(s.Marshal()); err != nil {
			t.Fatalf("state after operations does not round trip: %v", err)
		}
	})
}

// mvRef is the reference model: the latest value of each key in a plain
// map, a snapshot of the whole state per revision, and the event log.
type mvRef struct {
	rev     int64
	compact int64
	kv      map[string]KeyValue
	snaps   [][]KeyValue // snaps[r]: state at revision r, sorted by key
	events  []Event
}

func newMVRef() *mvRef {
	return &mvRef{rev: 1, kv: map[string]KeyValue{}, snaps: [][]KeyValue{nil, nil}}
}

func mvSorted(m map[string]KeyValue) []KeyValue {
	var out []KeyValue
	for _, kv := range m {
		out = append(out, kv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func mvMatch(key string, prefix bool, k string) bool {
	if prefix {
		return strings.HasPrefix(k, key)
	}
	return k == key
}

func (m *mvRef) rangeOf(kvs []KeyValue, o Op) OpResult {
	var r OpResult
	for _, kv := range kvs {
		if !mvMatch(o.Key, o.Prefix, kv.Key) {
			continue
		}
		r.Count++
		if o.Limit == 0 || int64(len(r.KVs)) < o.Limit {
			r.KVs = append(r.KVs, kv)
		}
	}
	r.More = o.Limit > 0 && r.Count > o.Limit
	return r
}

func (m *mvRef) checkRev(rev int64) error {
	if rev > m.rev {
		return ErrFutureRev
	}
	if rev > 0 && rev < m.compact {
		return ErrCompacted
	}
	return nil
}

func (m *mvRef) apply(t Txn) (TxnResult, error) {
	ok := true
	for _, c := range t.Compares {
		kv, present := m.kv[c.Key]
		var holds bool
		if c.Target == TargetValue {
			if present {
				switch c.Result {
				case Equal:
					holds = kv.Value == c.Value
				case NotEqual:
					holds = kv.Value != c.Value
				case Less:
					holds = kv.Value < c.Value
				case Greater:
					holds = kv.Value > c.Value
				}
			}
		} else {
			v := map[CompareTarget]int64{TargetVersion: kv.Version, TargetCreate: kv.CreateRevision, TargetMod: kv.ModRevision}[c.Target]
			switch c.Result {
			case Equal:
				holds = v == c.Num
			case NotEqual:
				holds = v != c.Num
			case Less:
				holds = v < c.Num
			case Greater:
				holds = v > c.Num
			}
		}
		ok = ok && holds
	}
	ops := t.Failure
	if ok {
		ops = t.Success
	}
	for _, o := range ops {
		if o.Kind == OpRange {
			if err := m.checkRev(o.Revision); err != nil {
				return TxnResult{}, err
			}
		}
	}
	work := map[string]KeyValue{}
	for k, v := range m.kv {
		work[k] = v
	}
	newRev := m.rev + 1
	wrote := false
	var evs []Event
	res := TxnResult{Succeeded: ok}
	for _, o := range ops {
		var r OpResult
		switch o.Kind {
		case OpRange:
			if o.Revision == 0 {
				r = m.rangeOf(mvSorted(work), o)
			} else {
				r = m.rangeOf(m.snaps[o.Revision], o)
			}
		case OpPut:
			prev, had := work[o.Key]
			kv := KeyValue{Key: o.Key, Value: o.Value, CreateRevision: newRev, ModRevision: newRev, Version: 1}
			if had {
				kv.CreateRevision, kv.Version = prev.CreateRevision, prev.Version+1
				if o.PrevKV {
					r.KVs = []KeyValue{prev}
				}
			}
			work[o.Key] = kv
			evs = append(evs, Event{Type: EventPut, KV: kv})
			wrote = true
		case OpDelete:
			for _, kv := range mvSorted(work) {
				if !mvMatch(o.Key, o.Prefix, kv.Key) {
					continue
				}
				delete(work, kv.Key)
				r.Deleted++
				if o.PrevKV {
					r.KVs = append(r.KVs, kv)
				}
				evs = append(evs, Event{Type: EventDelete, KV: KeyValue{Key: kv.Key, ModRevision: newRev}})
				wrote = true
			}
		}
		res.Results = append(res.Results, r)
	}
	if wrote {
		m.rev = newRev
		m.kv = work
		m.snaps = append(m.snaps, mvSorted(work))
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].KV.Key < evs[j].KV.Key })
		m.events = append(m.events, evs...)
	}
	res.Revision = m.rev
	return res, nil
}

var (
	mvKeys     = []string{"a", "ab", "abc", "b", "ba", "bb", "c", "ca", "d"}
	mvPrefixes = []string{"", "a", "ab", "b", "c", "ca", "e"}
	mvValues   = []string{"", "x", "y", "z"}
)

func mvRandOp(rng *rand.Rand, rev int64, read bool) Op {
	n := 3
	if !read {
		n = 2
	}
	switch rng.IntN(n) {
	case 0:
		return Op{Kind: OpPut, Key: mvKeys[rng.IntN(len(mvKeys))], Value: mvValues[rng.IntN(len(mvValues))], PrevKV: rng.IntN(2) == 0}
	case 1:
		if rng.IntN(3) == 0 {
			return Op{Kind: OpDelete, Key: mvPrefixes[rng.IntN(len(mvPrefixes))], Prefix: true, PrevKV: rng.IntN(2) == 0}
		}
		return Op{Kind: OpDelete, Key: mvKeys[rng.IntN(len(mvKeys))], PrevKV: rng.IntN(2) == 0}
	}
	return mvRandRange(rng, rev)
}

// mvRandRange returns a range of a key or prefix, with a limit and at a
// revision (possibly a future one) half of the time each.
func mvRandRange(rng *rand.Rand, rev int64) Op {
	o := Op{Kind: OpRange}
	if rng.IntN(2) == 0 {
		o.Limit = int64(1 + rng.IntN(3))
	}
	if rng.IntN(2) == 0 {
		o.Key, o.Prefix = mvPrefixes[rng.IntN(len(mvPrefixes))], true
	} else {
		o.Key = mvKeys[rng.IntN(len(mvKeys))]
	}
	if rng.IntN(2) == 0 {
		o.Revision = 1 + rng.Int64N(rev+1) // sometimes a future revision
	}
	return o
}

func mvRandCompare(rng *rand.Rand, m *mvRef) Compare {
	c := Compare{Key: mvKeys[rng.IntN(len(mvKeys))], Target: CompareTarget(1 + rng.IntN(4)), Result: CompareResult(1 + rng.IntN(4))}
	kv := m.kv[c.Key]
	switch c.Target {
	case TargetValue:
		c.Value = mvValues[rng.IntN(len(mvValues))]
	case TargetVersion:
		c.Num = kv.Version + int64(rng.IntN(3)-1)
	case TargetCreate:
		c.Num = kv.CreateRevision + int64(rng.IntN(3)-1)
	case TargetMod:
		c.Num = kv.ModRevision + int64(rng.IntN(3)-1)
	}
	return c
}

// mvRunModel drives the store and the reference with n random steps and
// returns the final hash.
func mvRunModel(t *testing.T, seed uint64, n int) string {
	rng := rand.New(rand.NewPCG(seed, 0x6d766363))
	s := NewMVCC()
	m := newMVRef()
	for step := 0; step < n; step++ {
		what := rng.IntN(100)
		switch {
		case what < 55: // a txn: single write, or compares and branches
			var txn Txn
			if what < 30 {
				txn.Success = []Op{mvRandOp(rng, m.rev, false)}
			} else {
				for i := rng.IntN(3); i > 0; i-- {
					txn.Compares = append(txn.Compares, mvRandCompare(rng, m))
				}
				for i := rng.IntN(5); i > 0; i-- {
					txn.Success = append(txn.Success, mvRandOp(rng, m.rev, true))
				}
				for i := rng.IntN(3); i > 0; i-- {
					txn.Failure = append(txn.Failure, mvRandOp(rng, m.rev, true))
				}
			}
			got, gerr := s.Apply(txn)
			want, werr := m.apply(txn)
			if !errors.Is(gerr, werr) || (gerr == nil) != (werr == nil) {
				t.Fatalf("seed %d step %d %v: err %v, want %v", seed, step, txn, gerr, werr)
			}
			if gerr != nil {
				if got.Revision != m.rev {
					t.Fatalf("seed %d step %d: failed txn revision %d", seed, step, got.Revision)
				}
				continue
			}
			if !mvResultsEqual(got, want) {
				t.Fatalf("seed %d step %d %v:\n got %+v\nwant %+v", seed, step, txn, got, want)
			}
		case what < 80: // a read at a random revision
			o := mvRandRange(rng, m.rev)
			if o.Revision == 0 && rng.IntN(2) == 0 && m.rev > 1 {
				o.Revision = 1 + rng.Int64N(m.rev) // a past revision
			}
			got, gerr := s.Range(o)
			werr := m.checkRev(o.Revision)
			if !errors.Is(gerr, werr) || (gerr == nil) != (werr == nil) {
				t.Fatalf("seed %d step %d %v: err %v, want %v", seed, step, o, gerr, werr)
			}
			if gerr != nil {
				continue
			}
			at := o.Revision
			if at == 0 {
				at = m.rev
			}
			if want := m.rangeOf(m.snaps[at], o); !mvOpResultEqual(got, want) {
				t.Fatalf("seed %d step %d %v: got %+v want %+v", seed, step, o, got, want)
			}
		case what < 83: // compaction
			rev := m.compact + rng.Int64N(m.rev-m.compact+1) + int64(rng.IntN(2))
			err := s.Compact(rev)
			var want error
			switch {
			case rev > m.rev:
				want = ErrFutureRev
			case rev <= m.compact:
				want = ErrCompacted
			default:
				m.compact = rev
			}
			if !errors.Is(err, want) || (err == nil) != (want == nil) {
				t.Fatalf("seed %d step %d compact %d (compact %d, rev %d): %v, want %v", seed, step, rev, m.compact, m.rev, err, want)
			}
		case what < 95: // events from a random revision
			from := rng.Int64N(m.rev + 2)
			key, prefix := mvKeys[rng.IntN(len(mvKeys))], false
			if rng.IntN(2) == 0 {
				key, prefix = mvPrefixes[rng.IntN(len(mvPrefixes))], true
			}
			got, err := s.Events(key, prefix, from)
			if from > 0 && from <= m.compact {
				if !errors.Is(err, ErrCompacted) {
					t.Fatalf("seed %d step %d events from %d (compact %d): %v", seed, step, from, m.compact, err)
				}
				continue
			}
			var want []Event
			for _, e := range m.events {
				if from > 0 && e.KV.ModRevision >= from && mvMatch(key, prefix, e.KV.Key) {
					want = append(want, e)
				}
			}
			if err != nil || !(len(got) == 0 && len(want) == 0 || reflect.DeepEqual(got, want)) {
				t.Fatalf("seed %d step %d events(%q, %v, %d): %v %v, want %v", seed, step, key, prefix, from, got, err, want)
			}
		default: // restart from the marshalled state
			b := s.Marshal()
			u, err := UnmarshalMVCC(b)
			if err != nil || u.Hash() != s.Hash() {
				t.Fatalf("seed %d step %d: round trip: %v", seed, step, err)
			}
			s = u
		}
		if s.Rev() != m.rev || s.CompactRev() != m.compact {
			t.Fatalf("seed %d step %d: rev %d compact %d, want %d %d", seed, step, s.Rev(), s.CompactRev(), m.rev, m.compact)
		}
		if got, want := mvAll(t, s, 0), mvSorted(m.kv); !mvSame(got, want) {
			t.Fatalf("seed %d step %d: state %v, want %v", seed, step, got, want)
		}
	}
	// Every retained revision still reads right.
	for r := max(m.compact, 1); r <= m.rev; r++ {
		if got := mvAll(t, s, r); !mvSame(got, m.snaps[r]) {
			t.Fatalf("seed %d: at %d: %v, want %v", seed, r, got, m.snaps[r])
		}
	}
	return s.Hash()
}

func mvOpResultEqual(a, b OpResult) bool {
	return mvSame(a.KVs, b.KVs) && a.Count == b.Count && a.More == b.More && a.Deleted == b.Deleted
}

func mvResultsEqual(a, b TxnResult) bool {
	if a.Succeeded != b.Succeeded || a.Revision != b.Revision || len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		if !mvOpResultEqual(a.Results[i], b.Results[i]) {
			return false
		}
	}
	return true
}

func TestMVCCModel(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		h1 := mvRunModel(t, seed, 3000)
		if h2 := mvRunModel(t, seed, 3000); h1 != h2 {
			t.Fatalf("seed %d: hash %s then %s: not deterministic", seed, h1, h2)
		}
	}
}
