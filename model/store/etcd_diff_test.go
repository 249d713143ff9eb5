package store

// Differential test of the MVCC model against a real etcd: the same random
// requests go to hasim's MVCC and to a fresh single-member etcd (through its
// v3 JSON gateway, package realetcd), and every answer must be the same.
// Needs the etcd binary (Debian: etcd-server); CI installs it.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hasim/cmd/hasim/realetcd"
)

// edStart starts a fresh single-member etcd for t, killed when t ends
// (failed or not); it skips t when there is no etcd binary.
func edStart(t *testing.T) *realetcd.Client {
	t.Helper()
	if _, err := realetcd.FindBinary(""); err != nil {
		t.Skipf("differential test against real etcd skipped: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := realetcd.StartCluster(ctx, realetcd.Config{Dir: t.TempDir(), Size: 1})
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(c.Close)
	return c.Members[0].Client
}

// The keys, prefixes and values requests are drawn from: few, so that
// requests collide; prefixes that nest ("a", "ab"), match nothing ("e") or
// everything (""); values that are empty or not UTF-8.
var (
	edKeys     = []string{"a", "ab", "abc", "b", "ba", "bb", "c", "ca", "d"}
	edPrefixes = []string{"", "a", "ab", "b", "c", "ca", "e"}
	edValues   = []string{"", "x", "y", "z", "\x00\xff", "ü"}
)

// edRequest is one request, in hasim's form; Kind picks the etcd endpoint.
type edRequest struct {
	Kind    string // "range", "put", "delete" (one Op), "txn", "compact"
	Op      Op
	Txn     Txn
	Compact int64
}

func (r edRequest) String() string {
	switch r.Kind {
	case "txn":
		return r.Txn.String()
	case "compact":
		return "compact " + strconv.FormatInt(r.Compact, 10)
	}
	return r.Op.String()
}

// edGen draws requests that are valid for both stores (etcd refuses some
// that hasim accepts: see the deviations in mvcc.go and TestMVCCEtcdDeviations).
type edGen struct {
	rng *rand.Rand
	s   *MVCC // the model, for revisions and current values worth comparing against
}

func (g *edGen) key() string    { return edKeys[g.rng.IntN(len(edKeys))] }
func (g *edGen) prefix() string { return edPrefixes[g.rng.IntN(len(edPrefixes))] }
func (g *edGen) value() string  { return edValues[g.rng.IntN(len(edValues))] }

// revision draws a read revision: the latest (0), a retained one, the
// compaction revision itself, one just compacted away, or a future one.
func (g *edGen) revision() int64 {
	rev, comp := g.s.Rev(), g.s.CompactRev()
	switch x := g.rng.IntN(10); {
	case x < 4:
		return 0
	case x < 6:
		return max(comp, 1) + g.rng.Int64N(rev-max(comp, 1)+1)
	case x < 7:
		return max(comp, 1)
	case x < 9:
		if comp > 1 {
			return 1 + g.rng.Int64N(comp-1) // compacted
		}
		return 1
	default:
		return rev + 1 + g.rng.Int64N(2) // future
	}
}

func (g *edGen) rangeOp() Op {
	o := Op{Kind: OpRange, Revision: g.revision()}
	if g.rng.IntN(2) == 0 {
		o.Key, o.Prefix = g.prefix(), true
	} else {
		o.Key = g.key()
	}
	if g.rng.IntN(3) == 0 {
		o.Limit = 1 + g.rng.Int64N(3)
	}
	return o
}

func (g *edGen) putOp() Op {
	return Op{Kind: OpPut, Key: g.key(), Value: g.value(), PrevKV: g.rng.IntN(2) == 0}
}

func (g *edGen) deleteOp() Op {
	if g.rng.IntN(3) == 0 {
		return Op{Kind: OpDelete, Key: g.prefix(), Prefix: true, PrevKV: g.rng.IntN(2) == 0}
	}
	return Op{Kind: OpDelete, Key: g.key(), PrevKV: g.rng.IntN(2) == 0}
}

// compare draws a guard whose operand is near the key's current field, so
// that each relation holds about as often as not.
func (g *edGen) compare() Compare {
	c := Compare{Key: g.key(), Target: CompareTarget(1 + g.rng.IntN(4)), Result: CompareResult(1 + g.rng.IntN(4))}
	var kv KeyValue
	if r, err := g.s.Range(Op{Kind: OpRange, Key: c.Key}); err == nil && len(r.KVs) == 1 {
		kv = r.KVs[0]
	}
	near := func(v int64) int64 { return max(0, v+int64(g.rng.IntN(3)-1)) }
	switch c.Target {
	case TargetValue:
		c.Value = g.value()
		if g.rng.IntN(2) == 0 {
			c.Value = kv.Value
		}
	case TargetVersion:
		c.Num = near(kv.Version)
	case TargetCreate:
		c.Num = near(kv.CreateRevision)
	case TargetMod:
		c.Num = near(kv.ModRevision)
	}
	return c
}

// branch draws up to n ops of a txn branch. etcd refuses a branch that
// puts one key twice, or puts a key that the branch also deletes, so such
// ops are left out.
func (g *edGen) branch(n int) []Op {
	var ops []Op
	for i := g.rng.IntN(n + 1); i > 0; i-- {
		var o Op
		switch g.rng.IntN(3) {
		case 0:
			o = g.rangeOp()
		case 1:
			o = g.putOp()
		default:
			o = g.deleteOp()
		}
		if !edDisjointWrites(ops, o) {
			continue
		}
		ops = append(ops, o)
	}
	return ops
}

// edDisjointWrites reports whether o can join ops without a put of a key
// that another op of the branch puts or deletes.
func edDisjointWrites(ops []Op, o Op) bool {
	for _, p := range ops {
		switch {
		case o.Kind == OpPut && p.Kind == OpPut && o.Key == p.Key,
			o.Kind == OpPut && p.Kind == OpDelete && mvMatch(p.Key, p.Prefix, o.Key),
			o.Kind == OpDelete && p.Kind == OpPut && mvMatch(o.Key, o.Prefix, p.Key):
			return false
		}
	}
	return true
}

func (g *edGen) next() edRequest {
	switch x := g.rng.IntN(100); {
	case x < 22:
		return edRequest{Kind: "put", Op: g.putOp()}
	case x < 32:
		return edRequest{Kind: "delete", Op: g.deleteOp()}
	case x < 60:
		return edRequest{Kind: "range", Op: g.rangeOp()}
	case x < 94:
		var t Txn
		for i := g.rng.IntN(4); i > 0; i-- {
			t.Compares = append(t.Compares, g.compare())
		}
		t.Success, t.Failure = g.branch(4), g.branch(3)
		return edRequest{Kind: "txn", Txn: t}
	default:
		// From just below the compaction revision (compacted) to just
		// past the current one (future); never 0, where the two differ
		// (a named deviation).
		rev, comp := g.s.Rev(), g.s.CompactRev()
		lo := max(comp-1, 1)
		return edRequest{Kind: "compact", Compact: lo + g.rng.Int64N(rev+2-lo)}
	}
}

// edOutcome is an answer in a form both stores give: an error class
// ("compacted", "future", or the error's text), the header revision, and
// the results of the ops (one for a range, put or delete).
type edOutcome struct {
	Err       string
	Revision  int64
	Succeeded bool
	Results   []OpResult
}

func edErrClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrCompacted), realetcd.IsCompacted(err):
		return "compacted"
	case errors.Is(err, ErrFutureRev), realetcd.IsFutureRev(err):
		return "future"
	}
	return err.Error()
}

func (o edOutcome) String() string {
	if o.Err != "" {
		return "error " + o.Err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rev=%d succeeded=%t", o.Revision, o.Succeeded)
	for i, r := range o.Results {
		fmt.Fprintf(&b, "\n    [%d] count=%d more=%t deleted=%d kvs=%v", i, r.Count, r.More, r.Deleted, r.KVs)
	}
	return b.String()
}

// edModel applies req to the model.
func edModel(s *MVCC, req edRequest) edOutcome {
	switch req.Kind {
	case "range":
		r, err := s.Range(req.Op)
		if err != nil {
			return edOutcome{Err: edErrClass(err)}
		}
		return edOutcome{Revision: s.Rev(), Succeeded: true, Results: []OpResult{r}}
	case "put", "delete":
		r, err := s.Apply(Txn{Success: []Op{req.Op}})
		if err != nil {
			return edOutcome{Err: edErrClass(err)}
		}
		return edOutcome{Revision: r.Revision, Succeeded: true, Results: r.Results}
	case "compact":
		if err := s.Compact(req.Compact); err != nil {
			return edOutcome{Err: edErrClass(err)}
		}
		return edOutcome{Revision: s.Rev(), Succeeded: true}
	}
	r, err := s.Apply(req.Txn)
	if err != nil {
		return edOutcome{Err: edErrClass(err)}
	}
	return edOutcome{Revision: r.Revision, Succeeded: r.Succeeded, Results: r.Results}
}

// edRange is the etcd form of a Range op: a prefix is [key, PrefixEnd(key)),
// and the empty prefix ["\x00", "\x00"), every key (etcd has no empty key).
func edRange(o Op) (key, end string) {
	switch {
	case !o.Prefix:
		return o.Key, ""
	case o.Key == "":
		return "\x00", "\x00"
	}
	return o.Key, realetcd.PrefixEnd(o.Key)
}

func edRequestOp(o Op) realetcd.RequestOp {
	key, end := edRange(o)
	switch o.Kind {
	case OpPut:
		return realetcd.RequestOp{Put: &realetcd.PutRequest{Key: o.Key, Value: o.Value, PrevKV: o.PrevKV}}
	case OpDelete:
		return realetcd.RequestOp{Delete: &realetcd.DeleteRangeRequest{Key: key, RangeEnd: end, PrevKV: o.PrevKV}}
	}
	return realetcd.RequestOp{Range: &realetcd.RangeRequest{Key: key, RangeEnd: end, Limit: o.Limit, Revision: o.Revision}}
}

var (
	edTargets = map[CompareTarget]string{TargetVersion: realetcd.TargetVersion, TargetCreate: realetcd.TargetCreate,
		TargetMod: realetcd.TargetMod, TargetValue: realetcd.TargetValue}
	edResults = map[CompareResult]string{Equal: realetcd.ResultEqual, NotEqual: realetcd.ResultNotEqual,
		Less: realetcd.ResultLess, Greater: realetcd.ResultGreater}
)

func edKVs(kvs []realetcd.KeyValue) []KeyValue {
	var out []KeyValue
	for _, kv := range kvs {
		out = append(out, KeyValue(kv))
	}
	return out
}

func edRangeResult(r *realetcd.RangeResponse) OpResult {
	return OpResult{KVs: edKVs(r.KVs), Count: r.Count, More: r.More}
}

func edPutResult(r *realetcd.PutResponse) OpResult {
	var res OpResult
	if r.PrevKV != nil {
		res.KVs = []KeyValue{KeyValue(*r.PrevKV)}
	}
	return res
}

func edDeleteResult(r *realetcd.DeleteRangeResponse) OpResult {
	return OpResult{KVs: edKVs(r.PrevKVs), Deleted: r.Deleted}
}

// edEtcd sends req to etcd. An error that is not etcd's answer (the
// connection) is returned as such: the test cannot go on.
func edEtcd(ctx context.Context, c *realetcd.Client, req edRequest) (edOutcome, error) {
	answer := func(err error) (edOutcome, error) {
		var e *realetcd.Error
		if errors.As(err, &e) {
			return edOutcome{Err: edErrClass(err)}, nil
		}
		return edOutcome{}, err
	}
	switch req.Kind {
	case "range":
		key, end := edRange(req.Op)
		r, err := c.Range(ctx, realetcd.RangeRequest{Key: key, RangeEnd: end, Limit: req.Op.Limit, Revision: req.Op.Revision})
		if err != nil {
			return answer(err)
		}
		return edOutcome{Revision: r.Header.Revision, Succeeded: true, Results: []OpResult{edRangeResult(r)}}, nil
	case "put":
		r, err := c.Put(ctx, *edRequestOp(req.Op).Put)
		if err != nil {
			return answer(err)
		}
		return edOutcome{Revision: r.Header.Revision, Succeeded: true, Results: []OpResult{edPutResult(r)}}, nil
	case "delete":
		r, err := c.DeleteRange(ctx, *edRequestOp(req.Op).Delete)
		if err != nil {
			return answer(err)
		}
		return edOutcome{Revision: r.Header.Revision, Succeeded: true, Results: []OpResult{edDeleteResult(r)}}, nil
	case "compact":
		h, err := c.Compact(ctx, req.Compact)
		if err != nil {
			return answer(err)
		}
		return edOutcome{Revision: h.Revision, Succeeded: true}, nil
	}
	t := realetcd.TxnRequest{}
	for _, cmp := range req.Txn.Compares {
		t.Compare = append(t.Compare, realetcd.Compare{Key: cmp.Key, Target: edTargets[cmp.Target],
			Result: edResults[cmp.Result], Num: cmp.Num, Value: cmp.Value})
	}
	for _, o := range req.Txn.Success {
		t.Success = append(t.Success, edRequestOp(o))
	}
	for _, o := range req.Txn.Failure {
		t.Failure = append(t.Failure, edRequestOp(o))
	}
	r, err := c.Txn(ctx, t)
	if err != nil {
		return answer(err)
	}
	out := edOutcome{Revision: r.Header.Revision, Succeeded: r.Succeeded}
	for _, ro := range r.Responses {
		switch {
		case ro.Range != nil:
			out.Results = append(out.Results, edRangeResult(ro.Range))
		case ro.Put != nil:
			out.Results = append(out.Results, edPutResult(ro.Put))
		default:
			out.Results = append(out.Results, edDeleteResult(ro.Delete))
		}
	}
	return out, nil
}

// edSame compares two outcomes field by field (an empty and a nil list of
// keys are the same).
func edSame(a, b edOutcome) bool {
	if a.Err != b.Err || a.Revision != b.Revision || a.Succeeded != b.Succeeded || len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		x, y := a.Results[i], b.Results[i]
		if x.Count != y.Count || x.More != y.More || x.Deleted != y.Deleted ||
			!(len(x.KVs) == 0 && len(y.KVs) == 0 || reflect.DeepEqual(x.KVs, y.KVs)) {
			return false
		}
	}
	return true
}

// edTally counts what a sequence exercised, so that the test fails if the
// generator stops reaching a case.
type edTally struct {
	requests, ops                                  int
	compacted, future, compactions, compactRefused int
	txnSucceeded, txnFailed, deleted, limits       int
}

func (a *edTally) add(b edTally) {
	a.requests += b.requests
	a.ops += b.ops
	a.compacted += b.compacted
	a.future += b.future
	a.compactions += b.compactions
	a.compactRefused += b.compactRefused
	a.txnSucceeded += b.txnSucceeded
	a.txnFailed += b.txnFailed
	a.deleted += b.deleted
	a.limits += b.limits
}

// edRun sends n random requests drawn from seed to both stores and fails t
// at the first answer that differs.
func edRun(t *testing.T, c *realetcd.Client, seed uint64, n int) edTally {
	ctx := context.Background()
	s := NewMVCC()
	g := &edGen{rng: rand.New(rand.NewPCG(seed, 0xe7cd)), s: s}
	var tally edTally
	for step := 0; step < n; step++ {
		req := g.next()
		want := edModel(s, req)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, err := edEtcd(cctx, c, req)
		cancel()
		if err != nil {
			t.Fatalf("seed %d step %d: %s: etcd: %v", seed, step, req, err)
		}
		if !edSame(want, got) {
			t.Fatalf("seed %d step %d: %s:\n  hasim: %s\n  etcd:  %s", seed, step, req, want, got)
		}
		tally.requests++
		tally.ops++
		switch {
		case req.Kind == "compact":
			if got.Err == "" {
				tally.compactions++
			} else {
				tally.compactRefused++
			}
		case got.Err == "compacted":
			tally.compacted++
		case got.Err == "future":
			tally.future++
		case req.Kind == "txn":
			tally.ops += len(req.Txn.Success) + len(req.Txn.Failure)
			if got.Succeeded {
				tally.txnSucceeded++
			} else {
				tally.txnFailed++
			}
		}
		for _, r := range got.Results {
			if r.Deleted > 0 {
				tally.deleted++
			}
			if r.More {
				tally.limits++
			}
		}
	}
	return tally
}

// TestMVCCMatchesEtcd runs random sequences of requests — puts, deletes of
// keys and prefixes, ranges of keys and prefixes at past, compacted and
// future revisions with limits, transactions with compares of version,
// create, mod and value by =, !=, < and >, and compactions — through the
// model and a real etcd each, and requires the same answers: header
// revision, keys with their create and mod revisions, version and value,
// count, more, deleted counts, txn outcome, and errors.
func TestMVCCMatchesEtcd(t *testing.T) {
	const sequences, perSequence = 4, 2600 // ≥ 10,000 requests in all
	var mu sync.Mutex
	var total edTally
	t.Run("seq", func(t *testing.T) {
		for i := 0; i < sequences; i++ {
			seed := uint64(i + 1)
			t.Run(strconv.Itoa(i+1), func(t *testing.T) {
				// One etcd per sequence, in parallel: each sequence
				// starts from an empty store at revision 1.
				t.Parallel()
				c := edStart(t)
				tl := edRun(t, c, seed, perSequence)
				mu.Lock()
				total.add(tl)
				mu.Unlock()
			})
		}
	})
	if t.Failed() || t.Skipped() {
		return
	}
	t.Logf("%d requests (%d ops counting those inside txns): %d txns succeeded, %d failed; %d compactions (and %d refused: compacted or future); %d reads of compacted and %d of future revisions; %d deletes that removed keys; %d ranges cut by a limit",
		total.requests, total.ops, total.txnSucceeded, total.txnFailed, total.compactions, total.compactRefused, total.compacted, total.future, total.deleted, total.limits)
	if total.requests == 0 {
		t.Skip("every sequence was skipped")
	}
	if total.requests < 10000 || total.txnSucceeded < 100 || total.txnFailed < 100 || total.compactions < 50 || total.compactRefused < 20 ||
		total.compacted < 50 || total.future < 50 || total.deleted < 100 || total.limits < 50 {
		t.Errorf("the sequences did not exercise every case enough: %+v", total)
	}
}

// TestMVCCEtcdDeviations pins the differences between the model and etcd
// that mvcc.go names as deviations, so that the list stays true: requests
// etcd refuses or reads differently, none of which hasim's clients send.
func TestMVCCEtcdDeviations(t *testing.T) {
	c := edStart(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := NewMVCC()

	// Compaction at revision 0 of a fresh store: etcd's compaction
	// revision starts at -1, so it compacts (nothing); the model's starts
	// at 0 and calls it compacted.
	if _, err := c.Compact(ctx, 0); err != nil {
		t.Errorf("etcd: compact 0 of a fresh store: %v, want ok", err)
	}
	if err := s.Compact(0); !errors.Is(err, ErrCompacted) {
		t.Errorf("model: compact 0 of a fresh store: %v, want %v", err, ErrCompacted)
	}

	// A branch that writes one key twice: etcd refuses the txn, the model
	// applies both (the second put wins).
	dup := Txn{Success: []Op{{Kind: OpPut, Key: "a", Value: "1"}, {Kind: OpPut, Key: "a", Value: "2"}}}
	_, err := c.Txn(ctx, realetcd.TxnRequest{Success: []realetcd.RequestOp{edRequestOp(dup.Success[0]), edRequestOp(dup.Success[1])}})
	var e *realetcd.Error
	if !errors.As(err, &e) || e.Message != "etcdserver: duplicate key given in txn request" {
		t.Errorf("etcd: %s: %v, want the duplicate key error", dup, err)
	}
	if r, err := s.Apply(dup); err != nil || r.Revision != 2 {
		t.Errorf("model: %s: revision %d, %v; want applied at 2", dup, r.Revision, err)
	} else if got, _ := s.Range(Op{Kind: OpRange, Key: "a"}); len(got.KVs) != 1 || got.KVs[0].Value != "2" {
		t.Errorf("model: after %s: %v", dup, got.KVs)
	}
	if _, err := c.Put(ctx, realetcd.PutRequest{Key: "a", Value: "2"}); err != nil {
		t.Fatal(err)
	}

	// A negative revision or limit: etcd reads the latest revision without
	// a limit, the model refuses the request as malformed.
	r, err := c.Range(ctx, realetcd.RangeRequest{Key: "a", Revision: -1, Limit: -1})
	if err != nil || len(r.KVs) != 1 || r.KVs[0].Value != "2" {
		t.Errorf("etcd: range at revision -1, limit -1: %+v, %v", r, err)
	}
	if _, err := s.Range(Op{Kind: OpRange, Key: "a", Revision: -1, Limit: -1}); !errors.Is(err, errMVCCInvalid) {
		t.Errorf("model: range at revision -1, limit -1: %v, want %v", err, errMVCCInvalid)
	}
}
