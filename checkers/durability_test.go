package checkers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

func dsec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func dPut(c int, k, v string, start, end float64, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVPut, Key: k, Value: v, Start: dsec(start), End: dsec(end), Revision: rev}
}

func dPutUnknown(c int, k, v string, start float64) KVOp {
	return KVOp{Client: c, Kind: KVPut, Key: k, Value: v, Start: dsec(start), Indeterminate: true}
}

func dGet(c int, k string, start, end float64, got string, mod, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVGet, Key: k, Start: dsec(start), End: dsec(end), Found: true, Got: got, Mod: mod, Revision: rev}
}

func dGetNone(c int, k string, start, end float64, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVGet, Key: k, Start: dsec(start), End: dsec(end), Revision: rev}
}

func dDel(c int, k string, start, end float64, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVDelete, Key: k, Start: dsec(start), End: dsec(end), Deleted: 1, Revision: rev}
}

func dCas(c int, k string, expect int64, v string, start, end float64, rev int64) KVOp {
	return KVOp{Client: c, Kind: KVCas, Key: k, ExpectMod: expect, Value: v, Start: dsec(start), End: dsec(end), Succeeded: true, Revision: rev}
}

func wantDurability(t *testing.T, ops []KVOp, want harness.Status, substr ...string) harness.Verdict {
	t.Helper()
	v := CheckDurability(ops)
	if v.Check != "acked-durable" {
		t.Errorf("check name %q", v.Check)
	}
	if v.Status != want {
		t.Fatalf("got %s, want %s: %s", v.Status, want, v.Detail)
	}
	for _, s := range substr {
		if !strings.Contains(v.Detail, s) {
			t.Errorf("detail lacks %q: %s", s, v.Detail)
		}
	}
	return v
}

func TestDurabilityLostPut(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "k", "v2", 1, 2, 3),
		dGet(2, "k", 3, 3.5, "v1", 2, 3), // after v2's ack, sees v1
	}
	wantDurability(t, ops, harness.Violated, "lost acknowledged write", `c1 put "k" "v2" -> rev=3 was acknowledged at 2s`, `c2 get "k" -> "v1" mod=2`, "saw revision 2")
}

func TestDurabilityLostPutWithoutRevisions(t *testing.T) {
	// A history file without revisions: real-time order stands in.
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 0),
		dPut(1, "k", "v2", 1.5, 2, 0),
		dGet(2, "k", 3, 3.5, "v1", 0, 0),
	}
	wantDurability(t, ops, harness.Violated, "saw the older", `"v2"`)
}

func TestDurabilityConcurrentReadSeesOld(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "k", "v2", 2, 4, 3),
		dGet(2, "k", 3, 3.5, "v1", 2, 2), // concurrent with v2: either is fine
		dGet(2, "k", 5, 5.5, "v2", 3, 3),
	}
	wantDurability(t, ops, harness.OK, "2 of them checked by 2 later reads")
}

func TestDurabilityIndeterminatePutAppearsLater(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPutUnknown(1, "k", "v2", 2),
		dGet(2, "k", 3, 3.5, "v1", 2, 2), // not yet
		dGet(2, "k", 10, 10.5, "v2", 3, 3),
		dGet(3, "k", 11, 11.5, "v2", 3, 3),
	}
	wantDurability(t, ops, harness.OK)
}

func TestDurabilityIndeterminateOverwrittenIsStale(t *testing.T) {
	// v2 (indeterminate) took effect at revision 3; v3 was acknowledged at
	// revision 4; a later read seeing v2 lost v3.
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPutUnknown(1, "k", "v2", 2),
		dPut(2, "k", "v3", 5, 6, 4),
		dGet(3, "k", 7, 7.5, "v2", 3, 4),
	}
	wantDurability(t, ops, harness.Violated, `c2 put "k" "v3" -> rev=4`)
}

func TestDurabilityDeleteThenNotFound(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dDel(1, "k", 1, 2, 3),
		dGetNone(2, "k", 3, 3.5, 3),
	}
	wantDurability(t, ops, harness.OK)
}

func TestDurabilityIndeterminateDeleteExplainsNotFound(t *testing.T) {
	ops := []KVOp{
		{Client: 3, Kind: KVDelete, Key: "k", Start: dsec(0.5), Indeterminate: true},
		dPut(1, "k", "v1", 1, 2, 2),
		dGetNone(2, "k", 3, 3.5, 3),
	}
	wantDurability(t, ops, harness.OK)
}

func TestDurabilityNotFoundWithoutDelete(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dGetNone(2, "k", 3, 3.5, 2),
	}
	wantDurability(t, ops, harness.Violated, "found no key", `c1 put "k" "v1" -> rev=2 was acknowledged at 1s`)
}

func TestDurabilityNotFoundAfterOlderDelete(t *testing.T) {
	// The delete (revision 2) is older than the acknowledged put (3).
	ops := []KVOp{
		dPut(1, "k", "v0", 0, 0.5, 1),
		dDel(1, "k", 0.5, 1, 2),
		dPut(1, "k", "v1", 1, 2, 3),
		dGetNone(2, "k", 3, 3.5, 3),
	}
	wantDurability(t, ops, harness.Violated, `"v1" -> rev=3`)
}

func TestDurabilityDeleteLostValueReturns(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dDel(1, "k", 1, 2, 3),
		dGet(2, "k", 3, 3.5, "v1", 2, 3),
	}
	wantDurability(t, ops, harness.Violated, `c1 delete "k" -> deleted=1 rev=3`)
}

func TestDurabilityPhantom(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dGet(2, "k", 3, 3.5, "nobody", 7, 7),
	}
	wantDurability(t, ops, harness.Violated, "phantom read", `"nobody"`)
	// A value written to another key is a phantom here too; a failed
	// write had no effect.
	ops = []KVOp{
		dPut(1, "a", "x", 0, 1, 2),
		{Client: 1, Kind: KVPut, Key: "k", Value: "y", Start: dsec(1), End: dsec(1.2), Failed: true},
		dGet(2, "k", 3, 3.5, "x", 2, 2),
		dGet(2, "k", 4, 4.5, "y", 3, 3),
	}
	v := wantDurability(t, ops, harness.Violated, `get "k" -> "x"`, `get "k" -> "y"`)
	if strings.Count(v.Detail, "phantom read") != 2 {
		t.Errorf("want two phantoms: %s", v.Detail)
	}
	// A value whose only write was called after the read returned.
	ops = []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dGet(2, "k", 3, 3.5, "v2", 3, 3),
		dPutUnknown(1, "k", "v2", 4),
	}
	wantDurability(t, ops, harness.Violated, "written only later")
}

func TestDurabilityDuplicatedApply(t *testing.T) {
	// v1 was acknowledged at revision 2 and applied again at 4 (a
	// duplicated proposal), overwriting v2: not a lost write for this
	// checker (linearizability judges it).
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(2, "k", "v2", 1, 2, 3),
		dGet(2, "k", 3, 3.5, "v1", 4, 4),
	}
	wantDurability(t, ops, harness.OK)
	// Without a mod revision, the revision v1 was acknowledged with counts.
	ops[2].Mod = 0
	wantDurability(t, ops, harness.Violated, `c2 put "k" "v2" -> rev=3`)
}

func TestDurabilityCas(t *testing.T) {
	// A successful cas that expected an overwritten revision lost a write.
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "k", "v2", 1, 2, 3),
		dCas(2, "k", 2, "v3", 3, 3.5, 4),
	}
	wantDurability(t, ops, harness.Violated, `c1 put "k" "v2" -> rev=3`, "saw revision 2")
	// Good: cas on the latest revision, failed cas reading the latest.
	ops = []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dCas(2, "k", 2, "v2", 3, 3.5, 3),
		{Client: 3, Kind: KVCas, Key: "k", ExpectMod: 2, Value: "v3", Start: dsec(4), End: dsec(4.5), Found: true, Got: "v2", Mod: 3, Revision: 3},
	}
	wantDurability(t, ops, harness.OK)
	// A failed cas that read the old value lost the acknowledged cas.
	ops = []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dCas(2, "k", 2, "v2", 3, 3.5, 3),
		{Client: 3, Kind: KVCas, Key: "k", ExpectMod: 1, Value: "v3", Start: dsec(4), End: dsec(4.5), Found: true, Got: "v1", Mod: 2, Revision: 3},
	}
	wantDurability(t, ops, harness.Violated, `c2 cas "k" if mod=2 then "v2" -> ok rev=3`)
	// cas on "absent" after an acknowledged put, with no delete.
	ops = []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dCas(2, "k", 0, "v2", 3, 3.5, 3),
	}
	wantDurability(t, ops, harness.Violated, "found no key")
}

func TestDurabilityEmptyDeleteObservesAbsence(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		{Client: 2, Kind: KVDelete, Key: "k", Start: dsec(3), End: dsec(3.5), Deleted: 0, Revision: 2},
	}
	wantDurability(t, ops, harness.Violated, "found no key")
}

func TestDurabilitySameClientSameInstant(t *testing.T) {
	// The client calls its read at the very instant its put returned.
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "k", "v2", 1, 2, 3),
		dGet(1, "k", 2, 2.5, "v1", 2, 3),
	}
	wantDurability(t, ops, harness.Violated, `"v2" -> rev=3`)
	// Another client at the same instant is concurrent.
	ops[2].Client = 2
	wantDurability(t, ops, harness.OK)
}

func TestDurabilityRevisionBackwards(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "j", "w1", 1, 2, 3),
		dGet(1, "k", 3, 3.5, "v1", 2, 2), // header revision 2 < 3
	}
	wantDurability(t, ops, harness.Violated, "revision went backwards for client 1", "returned revision 3", `c1 get "k"`, "returned revision 2")
}

func TestDurabilityRevisionAcrossClients(t *testing.T) {
	ops := []KVOp{
		dPut(1, "k", "v1", 0, 1, 2),
		dPut(1, "j", "w1", 1, 2, 3),
		dGet(2, "k", 3, 3.5, "v1", 2, 2), // another client, a lagging header
		dGet(1, "k", 4, 4.5, "v1", 2, 3),
	}
	wantDurability(t, ops, harness.OK)
}

func TestDurabilityUnknown(t *testing.T) {
	wantDurability(t, nil, harness.Unknown, "nothing to judge")
	ops := []KVOp{
		dGetNone(2, "k", 0, 0.5, 1),
		dPut(1, "k", "v1", 1, 2, 2),
		dPutUnknown(1, "j", "x", 2),
		dGet(2, "j", 3, 3.5, "x", 3, 3),
		{Client: 2, Kind: KVGet, Key: "k", Start: dsec(4), End: dsec(4.5), Failed: true},
	}
	wantDurability(t, ops, harness.Unknown, "1 acknowledged writes")
}

func TestDurabilityEvidenceBounded(t *testing.T) {
	var ops []KVOp
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("k%02d", i)
		ops = append(ops, dPut(1, k, "a"+k, float64(i), float64(i)+0.5, int64(2*i+1)))
		ops = append(ops, dGetNone(2, k, float64(i)+0.7, float64(i)+0.8, 0))
	}
	v := wantDurability(t, ops, harness.Violated, "and 30 more")
	if n := strings.Count(v.Detail, "lost acknowledged write"); n != MaxProblems {
		t.Errorf("%d items of evidence", n)
	}
	if v2 := CheckDurability(ops); v2 != v {
		t.Error("not deterministic")
	}
}
