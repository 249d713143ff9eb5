package checkers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"hasim/harness"
)

// CheckDurability judges, from a history of single-key operations alone,
// that every acknowledged write stays visible until it is overwritten or
// deleted — across crashes of any minority and whole-cluster restarts too —
// and that no client ever sees the store revision go backwards. Check name
// "acked-durable".
//
// Values are unique per write and mod revisions identify writes, so a read
// names the write it saw. The rules:
//
//   - Acknowledged writes of a key: completed puts, successful cas, and
//     deletes that removed the key (Deleted > 0), each with its revision.
//     (A delete that removed nothing wrote nothing: it does not bump the
//     revision.)
//   - Observations of a key: a completed get and a completed failed cas
//     (the key as read: Found, Got, Mod); a successful cas (the key's mod
//     revision was ExpectMod, absent when 0); a completed delete that removed
//     nothing (the key was absent).
//   - An observation R that started after an acknowledged write W of its key
//     completed (W.End < R.Start, or W.End == R.Start from the same,
//     sequential client) must see W or something newer: a mod revision
//     ≥ W's revision; or "absent" only if some delete (acknowledged with
//     Deleted > 0, or indeterminate) that was called before R returned is not
//     known to be older than W (revision ≥ W's, or an unknown revision).
//     When revisions are missing the real-time order stands in: R must not
//     see a write that was acknowledged before W was called. Otherwise W was
//     lost (or R is stale): violated.
//   - A read whose value no put or cas of that key wrote (acknowledged or
//     indeterminate; failed ones had no effect), or whose every writer was
//     called only after the read returned, is a phantom: violated. The
//     revision a read saw is its mod revision; without one, the revision its
//     value's acknowledged write got.
//   - Per client (clients are sequential), the response-header revision of
//     completed ops (when non-zero) never decreases, in call order. Across
//     clients a lower revision is legal.
//
// Legal concurrent outcomes are never flagged: a read concurrent with a
// write may see either state, and an indeterminate write may show up any
// time after its call, or never. Real-time order of concurrent ops is the
// linearizability checker's business, not this one's.
//
// Failed ops (certainly without effect) and indeterminate reads are
// ignored. The verdict is unknown when no observation followed an
// acknowledged write of its key and nothing was violated. Evidence is
// bounded to MaxProblems items.
func CheckDurability(ops []KVOp) harness.Verdict {
	d := durChecker{ops: ops}
	return d.run()
}

type durChecker struct {
	ops      []KVOp
	problems []string
	dropped  int
	firstAt  time.Duration // the earliest return of an offending observation
}

// fail records a problem an observation that returned at true time at
// showed.
func (d *durChecker) fail(at time.Duration, format string, args ...any) {
	if (len(d.problems) == 0 && d.dropped == 0) || at < d.firstAt {
		d.firstAt = at
	}
	if len(d.problems) >= MaxProblems {
		d.dropped++
		return
	}
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

// durKey is what the checker knows of one key.
type durKey struct {
	acked     []int            // acknowledged writes, by End (then index)
	maxRev    []int            // maxRev[i]: in acked[:i+1], the write with the highest known revision (-1: none)
	maxCall   []int            // maxCall[i]: in acked[:i+1], the write called last
	deletes   []int            // deletes that may have removed the key: acknowledged (Deleted > 0) or indeterminate
	writers   map[string][]int // value → puts and cas that may have written it
	byRev     map[int64]int    // revision → the acknowledged write that created it
	obs       []int            // observations, in op order
	covered   []bool           // acked[i] was followed by an observation
	coveredTo int              // covered[:coveredTo] are all set
}

func (d *durChecker) run() harness.Verdict {
	keys := map[string]*durKey{}
	get := func(k string) *durKey {
		dk := keys[k]
		if dk == nil {
			dk = &durKey{writers: map[string][]int{}, byRev: map[int64]int{}}
			keys[k] = dk
		}
		return dk
	}
	ackedN := 0
	for i, o := range d.ops {
		if o.Failed {
			continue
		}
		dk := get(o.Key)
		done := !o.Indeterminate
		switch o.Kind {
		case KVPut:
			dk.writers[o.Value] = append(dk.writers[o.Value], i)
			if done {
				dk.acked = append(dk.acked, i)
			}
		case KVCas:
			switch {
			case !done:
				dk.writers[o.Value] = append(dk.writers[o.Value], i)
			case o.Succeeded:
				dk.writers[o.Value] = append(dk.writers[o.Value], i)
				dk.acked = append(dk.acked, i)
				dk.obs = append(dk.obs, i)
			default:
				dk.obs = append(dk.obs, i)
			}
		case KVDelete:
			switch {
			case !done:
				dk.deletes = append(dk.deletes, i)
			case o.Deleted > 0:
				dk.deletes = append(dk.deletes, i)
				dk.acked = append(dk.acked, i)
			default:
				dk.obs = append(dk.obs, i)
			}
		case KVGet:
			if done {
				dk.obs = append(dk.obs, i)
			}
		}
	}

	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)

	checked := 0
	coveredN := 0
	for _, k := range names {
		dk := keys[k]
		ackedN += len(dk.acked)
		d.index(dk)
		for _, r := range dk.obs {
			if d.observe(k, dk, r) {
				checked++
			}
		}
		for _, c := range dk.covered {
			if c {
				coveredN++
			}
		}
	}
	clients := d.revisions()

	v := harness.Verdict{Check: "acked-durable"}
	if len(d.problems) > 0 {
		v.Status = harness.Violated
		v.Detail = strings.Join(d.problems, "; ")
		v.At = d.firstAt
		if d.dropped > 0 {
			v.Detail += fmt.Sprintf("; and %d more", d.dropped)
		}
		return v
	}
	summary := fmt.Sprintf("%d acknowledged writes on %d keys, %d of them checked by %d later reads; revisions monotonic for %d clients",
		ackedN, len(keys), coveredN, checked, clients)
	if checked == 0 {
		v.Status = harness.Unknown
		v.Detail = "nothing to judge: no read followed an acknowledged write of its key (" + summary + ")"
		return v
	}
	v.Status = harness.OK
	v.Detail = summary
	return v
}

// index sorts a key's acknowledged writes by completion and builds the
// prefix maxima the observations are checked against.
func (d *durChecker) index(dk *durKey) {
	sort.SliceStable(dk.acked, func(a, b int) bool {
		return d.ops[dk.acked[a]].End < d.ops[dk.acked[b]].End
	})
	dk.maxRev = make([]int, len(dk.acked))
	dk.maxCall = make([]int, len(dk.acked))
	dk.covered = make([]bool, len(dk.acked))
	bestRev, bestCall := -1, -1
	for i, w := range dk.acked {
		o := d.ops[w]
		if o.Revision > 0 {
			if _, dup := dk.byRev[o.Revision]; !dup {
				dk.byRev[o.Revision] = w
			}
			if bestRev < 0 || o.Revision > d.ops[bestRev].Revision {
				bestRev = w
			}
		}
		if bestCall < 0 || o.Start > d.ops[bestCall].Start {
			bestCall = w
		}
		dk.maxRev[i], dk.maxCall[i] = bestRev, bestCall
	}
}

// observe checks one observation; it reports whether some acknowledged
// write preceded it (so it was judged).
func (d *durChecker) observe(key string, dk *durKey, r int) bool {
	ro := d.ops[r]
	found, got, hasValue, mod := d.seen(ro)

	// The writer of what R saw, and the revision it saw.
	writer := -1
	if found && hasValue {
		ws := dk.writers[got]
		if len(ws) == 0 {
			d.fail(ro.End, "phantom read: %s (called at %s) saw a value no put or cas of %s wrote", ro, fmtT(ro.Start), strconv.Quote(key))
			return false
		}
		early := true
		for _, w := range ws {
			if d.ops[w].Start <= ro.End {
				early = false
			}
		}
		if early {
			w := d.ops[ws[0]]
			d.fail(ro.End, "phantom read: %s returned at %s a value written only later, by %s called at %s", ro, fmtT(ro.End), w, fmtT(w.Start))
			return false
		}
		for _, w := range ws {
			if !d.ops[w].Indeterminate {
				writer = w
				break
			}
		}
		// The store's mod revision is what R saw; it may differ from the
		// revision the write was acknowledged with when the write was
		// applied twice (a duplicated proposal): the linearizability
		// checker's business, not a lost write.
		if mod == 0 && writer >= 0 {
			mod = d.ops[writer].Revision
		}
	} else if found && mod > 0 {
		if w, ok := dk.byRev[mod]; ok {
			writer = w
		}
	}

	// The acknowledged writes that precede R: those done before it was
	// called, and its own client's done at that very instant.
	n := sort.Search(len(dk.acked), func(i int) bool { return d.ops[dk.acked[i]].End >= ro.Start })
	cands := make([]int, 0, 4)
	if n > 0 {
		cands = append(cands, dk.maxRev[n-1], dk.maxCall[n-1])
		for ; dk.coveredTo < n; dk.coveredTo++ {
			dk.covered[dk.coveredTo] = true
		}
	}
	for i := n; i < len(dk.acked) && d.ops[dk.acked[i]].End == ro.Start; i++ {
		w := dk.acked[i]
		if w != r && d.ops[w].Client == ro.Client && d.ops[w].Start < ro.Start {
			cands = append(cands, w)
			dk.covered[i] = true
		}
	}
	if len(cands) == 0 {
		return false
	}
	// The newest known revision and the latest call among the candidates.
	newest, latest := -1, -1
	for _, w := range cands {
		if w < 0 {
			continue
		}
		o := d.ops[w]
		if o.Revision > 0 && (newest < 0 || o.Revision > d.ops[newest].Revision) {
			newest = w
		}
		if latest < 0 || o.Start > d.ops[latest].Start {
			latest = w
		}
	}

	if found {
		if newest >= 0 && mod > 0 && mod < d.ops[newest].Revision {
			w := d.ops[newest]
			d.fail(ro.End, "lost acknowledged write: %s was acknowledged at %s, but %s called at %s saw revision %d",
				w, fmtT(w.End), ro, fmtT(ro.Start), mod)
			return true
		}
		if writer >= 0 && writer != latest && d.ops[latest].Start > d.ops[writer].End {
			w, old := d.ops[latest], d.ops[writer]
			d.fail(ro.End, "lost acknowledged write: %s was acknowledged at %s, but %s called at %s saw the older %s, acknowledged at %s before the lost write was called",
				w, fmtT(w.End), ro, fmtT(ro.Start), old, fmtT(old.End))
			return true
		}
		return true
	}
	for _, t := range []int{newest, latest} {
		if t < 0 || d.deleteExplains(dk, ro, t) {
			continue
		}
		w := d.ops[t]
		d.fail(ro.End, "lost acknowledged write: %s was acknowledged at %s, but %s called at %s found no key, and no delete that may be newer was called before it returned",
			w, fmtT(w.End), ro, fmtT(ro.Start))
		return true
	}
	return true
}

// seen is what observation o saw of its key: whether it was found, its
// value (when the op reports one) and its mod revision (0: unknown).
func (d *durChecker) seen(o KVOp) (found bool, got string, hasValue bool, mod int64) {
	switch {
	case o.Kind == KVCas && o.Succeeded:
		return o.ExpectMod != 0, "", false, o.ExpectMod
	case o.Kind == KVDelete:
		return false, "", false, 0
	}
	return o.Found, o.Got, o.Found, o.Mod
}

// deleteExplains reports whether some delete may have removed the key after
// write t and before observation r returned.
func (d *durChecker) deleteExplains(dk *durKey, r KVOp, t int) bool {
	w := d.ops[t]
	for _, x := range dk.deletes {
		del := d.ops[x]
		if x == t {
			return true
		}
		if del.Start >= r.End {
			continue
		}
		if del.Revision > 0 && w.Revision > 0 {
			if del.Revision >= w.Revision {
				return true
			}
			continue
		}
		if del.Indeterminate || del.End >= w.Start {
			return true
		}
	}
	return false
}

// revisions checks that each client's header revisions never decrease; it
// returns how many clients reported any.
func (d *durChecker) revisions() int {
	by := map[int][]int{}
	for i, o := range d.ops {
		if o.Failed || o.Indeterminate || o.Revision == 0 {
			continue
		}
		by[o.Client] = append(by[o.Client], i)
	}
	clients := make([]int, 0, len(by))
	for c := range by {
		clients = append(clients, c)
	}
	sort.Ints(clients)
	for _, c := range clients {
		idx := by[c]
		sort.SliceStable(idx, func(a, b int) bool {
			oa, ob := d.ops[idx[a]], d.ops[idx[b]]
			if oa.Start != ob.Start {
				return oa.Start < ob.Start
			}
			return oa.End < ob.End
		})
		high := idx[0]
		for _, i := range idx[1:] {
			o := d.ops[i]
			if o.Revision < d.ops[high].Revision {
				h := d.ops[high]
				d.fail(o.End, "revision went backwards for client %d: %s returned revision %d at %s, then %s called at %s returned revision %d",
					c, h, h.Revision, fmtT(h.End), o, fmtT(o.Start), o.Revision)
				break
			}
			high = i
		}
	}
	return len(clients)
}
