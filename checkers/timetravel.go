package checkers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"hasim/harness"
)

// Read modes of an RVObservation. Every mode but RVWrite is a read mode and
// is judged; RVWrite observations are evidence only.
const (
	// RVQuorum: a GET without resourceVersion, or a consistent LIST: served
	// from the store.
	RVQuorum = "quorum"
	// RVCache: a GET or LIST with resourceVersion "0": served from the
	// answering API server's watch cache, which may lag.
	RVCache = "cache"
	// RVWrite: the resourceVersion a successful write returned.
	RVWrite = "write"
)

// RVObservation is one resourceVersion a client received.
type RVObservation struct {
	Client string        // who observed
	Mode   string        // RVQuorum, RVCache or RVWrite (any other mode is judged as a read mode of its own)
	Key    string        // the object key for GET/write, or "list:<kind>" for a LIST
	RV     int64         // the object's resourceVersion (GET/write) or the list's resourceVersion
	Found  bool          // GET: the object existed (a 404 has Found=false and RV 0)
	At     time.Duration // true time the response arrived
	Start  time.Duration // true time the call was issued
	Server string        // which API server answered (evidence only)
}

// NoTimeTravel checks monotonic reads per client: once a client has
// received resourceVersion r for a key, a read of that key it issues later
// must not return anything older. In Kubernetes a client's reads may be
// served by different API servers behind a load balancer, and reads with
// resourceVersion "0" come from a server's watch cache, which can lag: a
// client can then see an object, or a list, older than one it already saw.
//
// The rule: a read R (any mode but RVWrite) of key K by client C that
// returned an RV (Found, RV > 0) is judged against every observation O of K
// by C that arrived strictly before R was issued (O.At < R.Start) — reads of
// any mode that returned an RV, and C's own writes (RVWrite, RV > 0). R must
// return an RV ≥ the highest such O.RV; otherwise it travelled back in time.
// Observations concurrent with R (arriving at or after R.Start) never
// count. LISTs ("list:<kind>") are judged only against earlier LISTs of the
// same kind, never against object RVs, and objects only against the same
// object.
//
// Not-found reads (Found false) and reads without an RV are skipped (and
// counted as skipped): a 404 carries no resourceVersion, and without seeing
// deletions the checker cannot tell a stale cache that does not yet have the
// object from a legitimate deletion by another client. Such reads are not
// evidence either.
//
// Verdicts are per read mode (see Verdict); the check name is
// name+"/"+mode.
type NoTimeTravel struct {
	name string
	obs  []RVObservation
}

// NewNoTimeTravel returns a checker whose verdicts are named name+"/"+mode,
// e.g. "no-time-travel/cache".
func NewNoTimeTravel(name string) *NoTimeTravel {
	return &NoTimeTravel{name: name}
}

// Observe records one response a client received. Observations may arrive
// in any order.
func (c *NoTimeTravel) Observe(o RVObservation) {
	c.obs = append(c.obs, o)
}

// TimeTravelCounts sums up the reads of one mode, for reports.
type TimeTravelCounts struct {
	Reads      int // reads of the mode observed
	Skipped    int // not-found reads and reads without an RV: not judged
	Judged     int // reads that followed an earlier sighting of their key by their client
	Violations int // judged reads that returned an older RV
	Clients    int // distinct clients among the judged reads
	Keys       int // distinct keys among the judged reads
}

// ttViolation is one read that went back in time.
type ttViolation struct {
	read, seen RVObservation
}

// Counts returns the counts of reads of mode.
func (c *NoTimeTravel) Counts(mode string) TimeTravelCounts {
	counts, _ := c.judge(mode)
	return counts
}

// Modes returns the read modes observed, sorted, with RVQuorum and RVCache
// always included.
func (c *NoTimeTravel) Modes() []string {
	set := map[string]bool{RVQuorum: true, RVCache: true}
	for _, o := range c.obs {
		if o.Mode != RVWrite {
			set[o.Mode] = true
		}
	}
	modes := make([]string, 0, len(set))
	for m := range set {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	return modes
}

// Verdicts returns one verdict per mode of Modes, in that order.
func (c *NoTimeTravel) Verdicts() []harness.Verdict {
	var vs []harness.Verdict
	for _, m := range c.Modes() {
		vs = append(vs, c.Verdict(m))
	}
	return vs
}

// Verdict judges only the reads of mode (RVQuorum, RVCache, …), under the
// check name name+"/"+mode; observations of every mode are evidence.
// Violated lists the reads that returned an older RV than their client had
// already seen (at most a few, then how many more); unknown when no read of
// mode followed an earlier sighting of its key by its client (in
// particular, when there were no reads of mode, or mode is RVWrite); ok
// otherwise, with the counts.
func (c *NoTimeTravel) Verdict(mode string) harness.Verdict {
	v := harness.Verdict{Check: c.name + "/" + mode}
	counts, bad := c.judge(mode)
	noun := mode + " reads"
	skipped := ""
	if counts.Skipped > 0 {
		skipped = fmt.Sprintf("; %d not-found or RV-less reads skipped", counts.Skipped)
	}
	switch {
	case mode == RVWrite:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("%q is not a read mode: writes are evidence only", mode)
	case len(bad) > 0:
		items := make([]string, len(bad))
		for i, b := range bad {
			items[i] = ttDescribe(b)
		}
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %d judged %s went back in time: %s",
			counts.Violations, counts.Judged, noun, joinExamples(items, "; "))
	case counts.Reads == 0:
		v.Status, v.Detail = harness.Unknown, "no "+noun
	case counts.Judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("nothing to judge: none of %d %s followed an earlier sighting of its key by its client%s",
			counts.Reads, noun, skipped)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s by %s on %s followed an earlier sighting, none older than it (%d %s in all%s)",
			countOf(counts.Judged, mode+" read"), countOf(counts.Clients, "client"), countOf(counts.Keys, "key"), counts.Reads, noun, skipped)
	}
	return v
}

// judge checks the reads of mode; the violations come in order of arrival.
func (c *NoTimeTravel) judge(mode string) (TimeTravelCounts, []ttViolation) {
	var counts TimeTravelCounts
	type ck struct{ client, key string }
	groups := map[ck][]int{}
	for i, o := range c.obs {
		if o.Mode == mode && mode != RVWrite {
			counts.Reads++
			if !o.Found || o.RV <= 0 {
				counts.Skipped++
			}
		}
		k := ck{o.Client, o.Key}
		groups[k] = append(groups[k], i)
	}
	if mode == RVWrite {
		return TimeTravelCounts{}, nil
	}
	gkeys := make([]ck, 0, len(groups))
	for k := range groups {
		gkeys = append(gkeys, k)
	}
	sort.Slice(gkeys, func(i, j int) bool {
		if gkeys[i].client != gkeys[j].client {
			return gkeys[i].client < gkeys[j].client
		}
		return gkeys[i].key < gkeys[j].key
	})
	clients, keys := map[string]bool{}, map[string]bool{}
	var bad []ttViolation
	for _, k := range gkeys {
		// Sightings, by arrival; reads of mode, by issue.
		var seen, reads []RVObservation
		for _, i := range groups[k] {
			o := c.obs[i]
			if o.RV <= 0 || (o.Mode != RVWrite && !o.Found) {
				continue
			}
			seen = append(seen, o)
			if o.Mode == mode {
				reads = append(reads, o)
			}
		}
		sort.SliceStable(seen, func(i, j int) bool { return seen[i].At < seen[j].At })
		sort.SliceStable(reads, func(i, j int) bool { return reads[i].Start < reads[j].Start })
		next, best := 0, -1
		for _, r := range reads {
			for ; next < len(seen) && seen[next].At < r.Start; next++ {
				if best < 0 || seen[next].RV > seen[best].RV {
					best = next
				}
			}
			if best < 0 {
				continue
			}
			counts.Judged++
			clients[k.client], keys[k.key] = true, true
			if r.RV < seen[best].RV {
				counts.Violations++
				bad = append(bad, ttViolation{read: r, seen: seen[best]})
			}
		}
	}
	counts.Clients, counts.Keys = len(clients), len(keys)
	sort.SliceStable(bad, func(i, j int) bool {
		a, b := bad[i].read, bad[j].read
		switch {
		case a.At != b.At:
			return a.At < b.At
		case a.Client != b.Client:
			return a.Client < b.Client
		case a.Key != b.Key:
			return a.Key < b.Key
		}
		return a.Start < b.Start
	})
	return counts, bad
}

// ttDescribe tells one violation, e.g. "client u2 read
// configmaps/default/cm-1 at rv 120 via m3/apiserver at 41.2s after seeing
// rv 135 at 40.9s (cache read issued at 41.1s; rv 135 from a quorum read via
// m1/apiserver)".
func ttDescribe(b ttViolation) string {
	r, s := b.read, b.seen
	what := "read " + r.Key
	if kind, ok := strings.CutPrefix(r.Key, "list:"); ok {
		what = "listed " + kind
	}
	from := "its write"
	if s.Mode != RVWrite {
		from = "a " + s.Mode + " read"
	}
	return fmt.Sprintf("client %s %s at rv %d%s at %s after seeing rv %d at %s (%s read issued at %s; rv %d from %s%s)",
		r.Client, what, r.RV, ttVia(r.Server), fmtT(r.At), s.RV, fmtT(s.At),
		r.Mode, fmtT(r.Start), s.RV, from, ttVia(s.Server))
}

func ttVia(server string) string {
	if server == "" {
		return ""
	}
	return " via " + server
}

// exampleCap bounds how many examples a verdict's detail lists.
const exampleCap = 5

// joinExamples joins at most exampleCap items, then says how many more.
func joinExamples(items []string, sep string) string {
	if len(items) <= exampleCap {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:exampleCap], sep) + fmt.Sprintf("%sand %d more", sep, len(items)-exampleCap)
}

// countOf says "1 pod", "2 pods".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
