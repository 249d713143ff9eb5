package checkers

// Streaming checkers: the same verdicts as the former, store-everything
// implementations (kept below as reference oracles, refXxx, verbatim but
// for their names), and memory that stays bounded over long runs.

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"hasim/harness"
)

// ---- Reference oracles: the checkers as they were before streaming. ----

type refAvailability struct {
	name       string
	grace      time.Duration
	Resolution time.Duration
	spans      []refAvailSpan
	calls      []refAvailCall
}

type refAvailSpan struct {
	from, to time.Duration // to -1: open
	serving  bool
	state    string
}

type refAvailCall struct {
	start, end time.Duration
	ok         bool
	what       string
}

func newRefAvailability(name string, grace time.Duration) *refAvailability {
	return &refAvailability{name: name, grace: grace}
}

func (a *refAvailability) State(at time.Duration, serving bool, state string) {
	if n := len(a.spans); n > 0 {
		last := &a.spans[n-1]
		if last.serving == serving && last.state == state {
			return
		}
		last.to = at
	}
	a.spans = append(a.spans, refAvailSpan{from: at, to: -1, serving: serving, state: state})
}

func (a *refAvailability) Call(start, end time.Duration, ok bool, what string) {
	a.calls = append(a.calls, refAvailCall{start: start, end: end, ok: ok, what: what})
}

func (a *refAvailability) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(a.name)}
	var bad []string
	judged := 0
	for _, c := range a.calls {
		s := a.spanAt(c.start)
		if s == nil || !s.serving || c.start < s.from+a.grace {
			continue
		}
		to := s.to
		if to < 0 {
			to = end
		}
		if c.end+a.Resolution >= to {
			continue
		}
		judged++
		if !c.ok {
			bad = append(bad, fmt.Sprintf("%s failed at %s (issued %s), %s after the system could serve (%s)",
				c.what, c.end, c.start, c.start-s.from, s.state))
		}
	}
	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %s failed although the system could serve: %s", len(bad), countOf(judged, "call"), joinExamples(bad, "; "))
	case judged == 0:
		v.Status = harness.Unknown
		v.Detail = fmt.Sprintf("no call was made while the system had been able to serve for at least %s", a.grace)
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s answered while the system could serve (grace %s after each change)", countOf(judged, "call"), a.grace)
	}
	return v
}

func (a *refAvailability) spanAt(t time.Duration) *refAvailSpan {
	for i := len(a.spans) - 1; i >= 0; i-- {
		if a.spans[i].from <= t {
			return &a.spans[i]
		}
	}
	return nil
}

type refSurplus struct {
	name   string
	window time.Duration
	want   map[string][]refWantAt
	count  map[string]int
	bad    []string
	seen   int
}

type refWantAt struct {
	at   time.Duration
	want int
}

func newRefSurplus(name string, window time.Duration) *refSurplus {
	return &refSurplus{name: name, window: window, want: map[string][]refWantAt{}, count: map[string]int{}}
}

func (s *refSurplus) Sample(at time.Duration, owner string, want, pods int) {
	hist := append(s.want[owner], refWantAt{at, want})
	for len(hist) > 1 && hist[1].at <= at-s.window {
		hist = hist[1:]
	}
	s.want[owner] = hist
	bound := 0
	for _, w := range hist {
		bound = max(bound, w.want)
	}
	prev, known := s.count[owner]
	s.count[owner] = pods
	s.seen++
	if known && pods > prev && pods > bound {
		s.bad = append(s.bad, fmt.Sprintf("%s grew to %d pods at %s, wanting at most %d within %s", owner, pods, at, bound, s.window))
	}
}

func (s *refSurplus) Verdict() harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(s.name)}
	switch {
	case len(s.bad) > 0:
		v.Status, v.Detail = harness.Violated, fmt.Sprintf("%s: %s", countOf(len(s.bad), "surplus creation"), joinExamples(s.bad, "; "))
	case s.seen == 0:
		v.Status, v.Detail = harness.Unknown, "no workload was sampled"
	default:
		v.Status, v.Detail = harness.OK, fmt.Sprintf("%d samples; no owner ever grew past what it wanted", s.seen)
	}
	return v
}

type refNoTimeTravel struct {
	name string
	obs  []RVObservation
}

func newRefNoTimeTravel(name string) *refNoTimeTravel {
	return &refNoTimeTravel{name: name}
}

func (c *refNoTimeTravel) Observe(o RVObservation) {
	c.obs = append(c.obs, o)
}

type refTTViolation struct {
	read, seen RVObservation
}

func (c *refNoTimeTravel) Counts(mode string) TimeTravelCounts {
	counts, _ := c.judge(mode)
	return counts
}

func (c *refNoTimeTravel) Modes() []string {
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

func (c *refNoTimeTravel) Verdicts() []harness.Verdict {
	var vs []harness.Verdict
	for _, m := range c.Modes() {
		vs = append(vs, c.Verdict(m))
	}
	return vs
}

func (c *refNoTimeTravel) Verdict(mode string) harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(c.name + "/" + mode)}
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
			items[i] = refTTDescribe(b)
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

func (c *refNoTimeTravel) judge(mode string) (TimeTravelCounts, []refTTViolation) {
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
	var bad []refTTViolation
	for _, k := range gkeys {
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
				bad = append(bad, refTTViolation{read: r, seen: seen[best]})
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

func refTTDescribe(b refTTViolation) string {
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

type refContinuity struct {
	name  string
	spans []refContSpan
	open  map[refContPod]int // pod → index of its open span
	stops []refContStop
	down  [][2]time.Duration // all-masters-down intervals, to -1: until the end
}

type refContPod struct{ node, pod string }

type refContSpan struct {
	refContPod
	start, end time.Duration // end -1: still running
}

type refContStop struct {
	refContPod
	at      time.Duration
	cause   StopCause
	started bool // a start of the pod was seen before
	since   time.Duration
}

func newRefContinuity(name string) *refContinuity {
	return &refContinuity{name: name, open: map[refContPod]int{}}
}

func (c *refContinuity) Started(at time.Duration, node, pod string) {
	p := refContPod{node, pod}
	if _, ok := c.open[p]; ok {
		return
	}
	c.open[p] = len(c.spans)
	c.spans = append(c.spans, refContSpan{refContPod: p, start: at, end: -1})
}

func (c *refContinuity) Stopped(at time.Duration, node, pod string, cause StopCause) {
	p := refContPod{node, pod}
	s := refContStop{refContPod: p, at: at, cause: cause}
	if i, ok := c.open[p]; ok {
		c.spans[i].end = at
		delete(c.open, p)
		s.started, s.since = true, c.spans[i].start
	}
	c.stops = append(c.stops, s)
}

func (c *refContinuity) MastersDown(from, to time.Duration) {
	c.down = append(c.down, [2]time.Duration{from, to})
}

type refContOutage struct {
	from, to time.Duration
	pods     int // pods running from its start to its end
}

func (c *refContinuity) outages(end time.Duration) []refContOutage {
	var out []refContOutage
	ds := make([][2]time.Duration, len(c.down))
	for i, d := range c.down {
		if d[1] < 0 {
			d[1] = max(end, d[0])
		}
		ds[i] = d
	}
	sort.Slice(ds, func(i, j int) bool {
		if ds[i][0] != ds[j][0] {
			return ds[i][0] < ds[j][0]
		}
		return ds[i][1] < ds[j][1]
	})
	for _, d := range ds {
		if n := len(out); n > 0 && d[0] <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, d[1])
			continue
		}
		out = append(out, refContOutage{from: d[0], to: max(d[1], d[0])})
	}
	return out
}

func (c *refContinuity) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(c.name)}
	outs := c.outages(end)
	for i := range outs {
		for _, s := range c.spans {
			se := s.end
			if se < 0 {
				se = max(end, outs[i].to)
			}
			if s.start <= outs[i].from && se >= outs[i].to {
				outs[i].pods++
			}
		}
	}

	stops := append([]refContStop(nil), c.stops...)
	sort.SliceStable(stops, func(i, j int) bool {
		a, b := stops[i], stops[j]
		switch {
		case a.at != b.at:
			return a.at < b.at
		case a.node != b.node:
			return a.node < b.node
		}
		return a.pod < b.pod
	})
	var deleted, hostDown int
	var bad []string
	for _, s := range stops {
		switch s.cause {
		case StopDeleted:
			deleted++
		case StopHostDown:
			hostDown++
		default:
			bad = append(bad, c.describeStop(s, outs))
		}
	}

	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%s stopped for no good reason: %s", countOf(len(bad), "pod"), joinExamples(bad, "; "))
	case len(c.spans) == 0:
		v.Status, v.Detail = harness.Unknown, "no pod ever started"
		if len(stops) > 0 {
			v.Detail += fmt.Sprintf(" (%s seen: %d deleted, %d lost with their host)", countOf(len(stops), "stop"), deleted, hostDown)
		}
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s started; %d deleted, %d lost with their host; %d still running at %s; %s",
			countOf(len(c.spans), "pod"), deleted, hostDown, len(c.open), fmtT(end), refContSurvived(outs))
	}
	return v
}

func (c *refContinuity) describeStop(s refContStop, outs []refContOutage) string {
	cause := string(s.cause)
	if cause == "" {
		cause = "no cause given"
	}
	var ran string
	if s.started {
		ran = fmt.Sprintf(", running since %s", fmtT(s.since))
	} else {
		ran = ", never seen starting"
	}
	masters := "with some master up"
	for _, o := range outs {
		if o.from <= s.at && s.at <= o.to {
			masters = fmt.Sprintf("while every master was down (since %s, %s before)", fmtT(o.from), fmtT(s.at-o.from))
			break
		}
	}
	return fmt.Sprintf("pod %s on node %s stopped at %s (%s)%s, %s", s.pod, s.node, fmtT(s.at), cause, ran, masters)
}

func refContSurvived(outs []refContOutage) string {
	if len(outs) == 0 {
		return "the masters were never all down"
	}
	best := -1
	for i, o := range outs {
		if o.pods > 0 && (best < 0 || o.to-o.from > outs[best].to-outs[best].from) {
			best = i
		}
	}
	if best < 0 {
		return fmt.Sprintf("no pod ran through any of %s", countOf(len(outs), "all-masters-down interval"))
	}
	o := outs[best]
	pl := countOf(o.pods, "pod")
	return fmt.Sprintf("pods kept running through %s with every master down (%s through the outage from %s to %s)",
		fmtT(o.to-o.from), pl, fmtT(o.from), fmtT(o.to))
}

type refDeposedWrites struct {
	name    string
	writes  []ActorWrite
	tenures []refDepTenure
}

type refDepTenure struct {
	lease, who string
	start, end time.Duration // end -1: still acting at the end of the run
}

func (t refDepTenure) acting(at time.Duration) bool {
	return t.start <= at && (t.end < 0 || at <= t.end)
}

func newRefDeposedWrites(name string) *refDeposedWrites {
	return &refDeposedWrites{name: name}
}

func (c *refDeposedWrites) Write(w ActorWrite) {
	c.writes = append(c.writes, w)
}

func (c *refDeposedWrites) Tenure(lease, who string, start, end time.Duration) {
	if end >= 0 && end < start {
		end = start
	}
	if end < 0 {
		end = -1
	}
	c.tenures = append(c.tenures, refDepTenure{lease: lease, who: who, start: start, end: end})
}

func (c *refDeposedWrites) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(c.name)}
	tenures := append([]refDepTenure(nil), c.tenures...)
	sort.SliceStable(tenures, func(i, j int) bool {
		a, b := tenures[i], tenures[j]
		switch {
		case a.start != b.start:
			return a.start < b.start
		case a.lease != b.lease:
			return a.lease < b.lease
		}
		return a.who < b.who
	})
	writes := append([]ActorWrite(nil), c.writes...)
	sort.SliceStable(writes, func(i, j int) bool {
		a, b := writes[i], writes[j]
		switch {
		case a.Landed != b.Landed:
			return a.Landed < b.Landed
		case a.Issued != b.Issued:
			return a.Issued < b.Issued
		case a.Who != b.Who:
			return a.Who < b.Who
		case a.Lease != b.Lease:
			return a.Lease < b.Lease
		}
		return a.What < b.What
	})

	var bad []string
	late := 0
	leases := map[string]bool{}
	for _, w := range writes {
		leases[w.Lease] = true
		cover := -1
		for i, t := range tenures {
			if t.lease != w.Lease || t.who != w.Who || !t.acting(w.Issued) {
				continue
			}
			if cover < 0 || refDepLonger(t, tenures[cover]) {
				cover = i
			}
		}
		if cover < 0 {
			bad = append(bad, refDepWithout(w, tenures))
			continue
		}
		x := tenures[cover]
		if x.acting(w.Landed) {
			continue
		}
		again := false
		for _, t := range tenures {
			if t.lease == w.Lease && t.who == w.Who && t.acting(w.Landed) {
				again = true
				break
			}
		}
		if again {
			continue
		}
		late++
		succ := -1
		for i, t := range tenures {
			if t.lease == w.Lease && t.who != w.Who && t.start <= w.Landed && (t.end < 0 || t.end > x.end) {
				succ = i // tenures are sorted by start: the first is the earliest
				break
			}
		}
		if succ < 0 {
			continue
		}
		y := tenures[succ]
		began := "began acting"
		if y.start <= x.end {
			began = "had been acting" // it overlapped the writer's tenure
		}
		bad = append(bad, fmt.Sprintf("%s stopped acting under %s at %s, but its write %q issued at %s landed at %s, %s after %s %s at %s",
			w.Who, w.Lease, fmtT(x.end), w.What, fmtT(w.Issued), fmtT(w.Landed), fmtT(w.Landed-y.start), y.who, began, fmtT(y.start)))
	}

	switch {
	case len(bad) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("%d of %d writes landed after their writer was deposed or were made without the lease: %s",
			len(bad), len(writes), joinExamples(bad, "; "))
	case len(writes) == 0:
		v.Status, v.Detail = harness.Unknown, fmt.Sprintf("no writes (%s)", countOf(len(tenures), "tenure"))
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("%s under %s judged: each was made under its lease and landed while its writer still acted or before a successor began (%d landed after their writer stopped, with no successor yet); run ended at %s",
			countOf(len(writes), "write"), countOf(len(leases), "lease"), late, fmtT(end))
	}
	return v
}

func refDepLonger(a, b refDepTenure) bool {
	switch {
	case b.end < 0:
		return false
	case a.end < 0:
		return true
	}
	return a.end > b.end
}

func refDepWithout(w ActorWrite, tenures []refDepTenure) string {
	var prev, next *refDepTenure
	var other *refDepTenure
	for i := range tenures {
		t := &tenures[i]
		if t.lease != w.Lease {
			continue
		}
		if t.who != w.Who {
			if other == nil && t.acting(w.Issued) {
				other = t
			}
			continue
		}
		if t.end >= 0 && t.end < w.Issued && (prev == nil || t.end > prev.end) {
			prev = t
		}
		if t.start > w.Issued && next == nil {
			next = t
		}
	}
	var held string
	switch {
	case prev != nil:
		held = fmt.Sprintf("its tenure had ended at %s", fmtT(prev.end))
	case next != nil:
		held = fmt.Sprintf("its tenure began only at %s", fmtT(next.start))
	default:
		held = "it never held the lease"
	}
	if other != nil {
		held += fmt.Sprintf("; %s was acting (since %s)", other.who, fmtT(other.start))
	}
	return fmt.Sprintf("%s acted without the lease %s: its write %q issued at %s (landed at %s), %s",
		w.Who, w.Lease, w.What, fmtT(w.Issued), fmtT(w.Landed), held)
}

type refLiveness struct {
	name      string
	healAt    time.Duration
	healed    bool
	budget    time.Duration
	budgetSet bool
	conds     []*refLiveCond
	byName    map[string]int
}

type refLiveCond struct {
	name    string
	samples []refLiveSample
}

type refLiveSample struct {
	at     time.Duration
	ok     bool
	detail string
}

func newRefLiveness(name string) *refLiveness {
	return &refLiveness{name: name, byName: map[string]int{}}
}

func (l *refLiveness) Healed(at time.Duration) {
	if !l.healed || at > l.healAt {
		l.healAt = at
	}
	l.healed = true
}

func (l *refLiveness) Budget(d time.Duration) {
	l.budget = max(d, 0)
	l.budgetSet = true
}

func (l *refLiveness) Condition(name string) { l.cond(name) }

func (l *refLiveness) cond(name string) *refLiveCond {
	if i, ok := l.byName[name]; ok {
		return l.conds[i]
	}
	l.byName[name] = len(l.conds)
	c := &refLiveCond{name: name}
	l.conds = append(l.conds, c)
	return c
}

func (l *refLiveness) Observe(at time.Duration, name string, ok bool, detail string) {
	c := l.cond(name)
	c.samples = append(c.samples, refLiveSample{at: at, ok: ok, detail: detail})
}

type refLiveJudgement struct {
	held     bool           // an ok sample in the window
	after    time.Duration  // how long after the heal it first held
	sampled  bool           // sampled in the window at all
	lastFail *refLiveSample // the last failing sample in the window
	late     *refLiveSample // the first ok sample after the window, if any
}

func (l *refLiveness) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: harness.CheckName(l.name), Status: harness.Unknown}
	heal := time.Duration(0)
	if l.healed {
		heal = l.healAt
	}
	switch {
	case !l.budgetSet:
		v.Detail = "no recovery budget given"
		return v
	case len(l.conds) == 0:
		v.Detail = "no condition declared"
		return v
	case heal > end:
		v.Detail = fmt.Sprintf("the last fault healed at %s, after the run ended at %s", fmtT(heal), fmtT(end))
		return v
	}
	deadline := heal + l.budget
	window := min(deadline, end)

	js := make([]refLiveJudgement, len(l.conds))
	for i, c := range l.conds {
		j := &js[i]
		for k := range c.samples {
			s := &c.samples[k]
			switch {
			case s.at < heal || s.at > end:
			case s.at <= window:
				j.sampled = true
				if s.ok && (!j.held || s.at-heal < j.after) {
					j.held, j.after = true, s.at-heal
				}
				if !s.ok && (j.lastFail == nil || s.at >= j.lastFail.at) {
					j.lastFail = s
				}
			case s.ok && (j.late == nil || s.at < j.late.at):
				j.late = s
			}
		}
	}

	var recovered, violated, pending, unsampled []string
	for i, c := range l.conds {
		j := js[i]
		switch {
		case j.held:
			recovered = append(recovered, fmt.Sprintf("%s after %s", c.name, fmtT(j.after)))
		case !j.sampled:
			unsampled = append(unsampled, c.name)
		case deadline > end:
			pending = append(pending, c.name+" ("+refLiveFailing(j.lastFail)+")")
		default:
			s := fmt.Sprintf("%s: pending since %s, %s", c.name, fmtT(heal), refLiveFailing(j.lastFail))
			if j.late != nil {
				s += fmt.Sprintf("; first held at %s, %s after the heal, over budget", fmtT(j.late.at), fmtT(j.late.at-heal))
			}
			violated = append(violated, s)
		}
	}
	since := "from the start"
	if l.healed {
		since = "of the heal at " + fmtT(heal)
	}
	var held string
	if len(recovered) > 0 {
		held = "; recovered: " + liveList(recovered, ", ")
	}
	switch {
	case len(violated) > 0:
		v.Status = harness.Violated
		v.Detail = fmt.Sprintf("not recovered within %s %s: %s%s", fmtT(l.budget), since, liveList(violated, "; "), held)
		if len(unsampled) > 0 {
			v.Detail += "; never sampled in time: " + liveList(unsampled, ", ")
		}
	case len(pending) > 0 || len(unsampled) > 0:
		var parts []string
		if len(pending) > 0 {
			parts = append(parts, fmt.Sprintf("run ended at %s, %s before heal+budget (%s); still pending: %s",
				fmtT(end), fmtT(deadline-end), fmtT(deadline), liveList(pending, ", ")))
		}
		if len(unsampled) > 0 {
			parts = append(parts, fmt.Sprintf("never sampled between %s and %s: %s", fmtT(heal), fmtT(window), liveList(unsampled, ", ")))
		}
		v.Detail = strings.Join(parts, "; ") + held
	default:
		v.Status = harness.OK
		v.Detail = fmt.Sprintf("recovered within %s %s: %s", fmtT(l.budget), since, liveList(recovered, ", "))
	}
	return v
}

func refLiveFailing(s *refLiveSample) string {
	if s == nil {
		return "no failing sample"
	}
	d := s.detail
	if d == "" {
		d = "failed"
	}
	const maxDetail = 200
	if len(d) > maxDetail {
		d = d[:maxDetail] + "…"
	}
	return fmt.Sprintf("last failing sample at %s: %s", fmtT(s.at), d)
}

type refRaftSafety struct {
	leaders   map[uint64]refLeaderAt // term → first leader seen
	canonical []refEntryID           // index-1 → the first applied entry there
	next      map[uint64]uint64      // member → next index it must apply
	rev       map[uint64]int64       // member → highest revision reported
	problems  []string
	leaderN   int
	applied   int
}

type refLeaderAt struct {
	member uint64
	at     time.Duration
}

type refEntryID struct {
	term   uint64
	digest uint64
	member uint64
	at     time.Duration
	by     uint64
}

func newRefRaftSafety() *refRaftSafety {
	return &refRaftSafety{leaders: map[uint64]refLeaderAt{}, next: map[uint64]uint64{}, rev: map[uint64]int64{}}
}

func (c *refRaftSafety) fail(format string, args ...any) {
	if len(c.problems) < MaxProblems {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

func (c *refRaftSafety) Leader(at time.Duration, member, term uint64) {
	c.leaderN++
	if prev, ok := c.leaders[term]; ok && prev.member != member {
		c.fail("two leaders in term %d: member %d at %s and member %d at %s", term, prev.member, fmtT(prev.at), member, fmtT(at))
		return
	}
	if _, ok := c.leaders[term]; !ok {
		c.leaders[term] = refLeaderAt{member, at}
	}
}

func (c *refRaftSafety) Reset(member, index uint64) { c.next[member] = index + 1 }

func (c *refRaftSafety) Applied(at time.Duration, member, index, term, digest, by uint64) {
	c.applied++
	if want, ok := c.next[member]; ok && index != want {
		c.fail("member %d applied index %d at %s, expected %d (applies out of order or with a gap)", member, index, fmtT(at), want)
	}
	c.next[member] = index + 1
	if index == 0 {
		return
	}
	if int(index) <= len(c.canonical) {
		e := c.canonical[index-1]
		if e.term == 0 {
			c.canonical[index-1] = refEntryID{term: term, digest: digest, member: member, at: at, by: by}
			return
		}
		if e.term != term || e.digest != digest {
			c.fail("index %d: member %d applied term %d digest %016x at %s, but member %d applied term %d digest %016x at %s",
				index, member, term, digest, fmtT(at), e.member, e.term, e.digest, fmtT(e.at))
		}
		c.canonical[index-1].by = min(e.by, by)
		return
	}
	for uint64(len(c.canonical)) < index-1 {
		c.canonical = append(c.canonical, refEntryID{})
	}
	c.canonical = append(c.canonical, refEntryID{term: term, digest: digest, member: member, at: at, by: by})
}

func (c *refRaftSafety) LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool)) {
	for i := first; i <= uint64(len(c.canonical)); i++ {
		e := c.canonical[i-1]
		if e.term == 0 || e.by >= leaderTerm {
			continue
		}
		t, ok := term(i)
		if !ok {
			c.fail("leader completeness: member %d became leader of term %d at %s without index %d, which member %d applied at %s (committed by term %d)",
				member, leaderTerm, fmtT(at), i, e.member, fmtT(e.at), e.by)
			return
		}
		if t != e.term {
			c.fail("leader completeness: member %d became leader of term %d at %s with term %d at index %d, where member %d applied term %d at %s (committed by term %d)",
				member, leaderTerm, fmtT(at), t, i, e.member, e.term, fmtT(e.at), e.by)
			return
		}
	}
}

func (c *refRaftSafety) Revision(at time.Duration, member uint64, rev int64) {
	if prev, ok := c.rev[member]; ok && rev < prev {
		c.fail("member %d's revision went back from %d to %d at %s", member, prev, rev, fmtT(at))
	}
	c.rev[member] = rev
}

func (c *refRaftSafety) Panicked(at time.Duration, member uint64, msg string) {
	c.fail("member %d panicked at %s: %s", member, fmtT(at), msg)
}

func (c *refRaftSafety) Committed() int { return len(c.canonical) }

func (c *refRaftSafety) Verdict() harness.Verdict {
	v := harness.Verdict{Check: "raft-safety"}
	if len(c.problems) > 0 {
		v.Status = harness.Violated
		v.Detail = strings.Join(c.problems, "; ")
		return v
	}
	if c.applied == 0 {
		v.Status = harness.Unknown
		v.Detail = "no member applied any entry"
		return v
	}
	v.Status = harness.OK
	v.Detail = fmt.Sprintf("%d leaders over %d terms, %d entries applied consistently", c.leaderN, len(c.leaders), len(c.canonical))
	return v
}

// ---- Helpers. ----

// sameVerdict fails unless got and want are the same verdict.
func sameVerdict(t *testing.T, what string, got, want harness.Verdict) {
	t.Helper()
	// The oracles predate Verdict.At, the moment a timeline marks, and
	// never set it; verdict_at_test.go checks it on its own.
	got.At = 0
	if got != want {
		t.Fatalf("%s: verdicts differ\n got: %s %q: %s\nwant: %s %q: %s", what, got.Status, got.Check, got.Detail, want.Status, want.Check, want.Detail)
	}
}

// tEvent is one timed call on a checker; events at one instant come in a
// random order.
type tEvent struct {
	at      time.Duration
	key     int64
	do      func()
	ordered bool // keeps its order among the ordered events of its instant
}

func runEvents(rng *rand.Rand, evs []tEvent) {
	var keys []int64
	var ordered []int
	for i := range evs {
		evs[i].key = rng.Int63()
		if evs[i].ordered {
			keys = append(keys, evs[i].key)
			ordered = append(ordered, i)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for k, i := range ordered {
		evs[i].key = keys[k]
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].key < evs[j].key
	})
	for _, e := range evs {
		e.do()
	}
}

// statusMix counts the statuses seen, to make sure a randomized test
// covered each.
type statusMix map[harness.Status]int

func (m statusMix) check(t *testing.T, want ...harness.Status) {
	t.Helper()
	for _, s := range want {
		if m[s] == 0 {
			t.Errorf("no %s verdict among %v", s, map[harness.Status]int(m))
		}
	}
}

// ---- Availability. ----

// genAvailability feeds both checkers a run: States every 100ms, users'
// sequential calls recorded as they end (in milliseconds, so some land at
// the instant of a State), verdicts asked now and then along the way.
func genAvailability(t *testing.T, rng *rand.Rand, a *Availability, ref *refAvailability, dur time.Duration) harness.Verdict {
	states := []struct {
		serving bool
		desc    string
	}{{true, "up via m1,m2"}, {true, "up via m2"}, {false, "no quorum"}, {false, "load balancer down"}}
	failRate := []float64{0, 0.01, 0.3}[rng.Intn(3)]
	change := []float64{0.002, 0.02}[rng.Intn(2)]
	var evs []tEvent
	cur := rng.Intn(len(states))
	for at := time.Duration(0); at <= dur; at += 100 * time.Millisecond {
		if rng.Float64() < change {
			cur = rng.Intn(len(states))
		}
		s := states[cur]
		evs = append(evs, tEvent{at: at, do: func() { a.State(at, s.serving, s.desc); ref.State(at, s.serving, s.desc) }})
	}
	n := 0
	for u := range 3 {
		for at := time.Duration(rng.Intn(1000)) * time.Millisecond; at < dur; {
			d := time.Duration(1+rng.Intn(2000)) * time.Millisecond
			if rng.Intn(20) == 0 {
				d = time.Duration(5000+rng.Intn(15000)) * time.Millisecond
			}
			start, end := at, at+d
			ok := rng.Float64() >= failRate
			what := fmt.Sprintf("u%d call %d", u, n)
			n++
			if end <= dur {
				evs = append(evs, tEvent{at: end, do: func() { a.Call(start, end, ok, what); ref.Call(start, end, ok, what) }})
			}
			at = end + time.Duration(rng.Intn(1000))*time.Millisecond
		}
	}
	// Verdicts along the way, at the time of the event just fed.
	for range 3 {
		i := rng.Intn(len(evs))
		at := evs[i].at
		evs = append(evs, tEvent{at: at, key: 0, do: func() {
			sameVerdict(t, fmt.Sprintf("verdict at %s", at), a.Verdict(at), ref.Verdict(at))
		}})
	}
	runEvents(rng, evs)
	v := a.Verdict(dur)
	sameVerdict(t, "final verdict", v, ref.Verdict(dur))
	return v
}

func TestStreamingAvailabilitySameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(60) {
		rng := rand.New(rand.NewSource(seed))
		grace := []time.Duration{0, time.Second, 5 * time.Second}[rng.Intn(3)]
		res := []time.Duration{0, 100 * time.Millisecond}[rng.Intn(2)]
		a, ref := NewAvailability("api", grace), newRefAvailability("api", grace)
		a.Resolution, ref.Resolution = res, res
		dur := []time.Duration{3 * time.Second, time.Minute, 10 * time.Minute}[rng.Intn(3)]
		mix[genAvailability(t, rng, a, ref, dur).Status]++
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown)
}

// The existing table's inputs, fed in the order of their tables, judge
// alike too (calls recorded early or late, before any State, …).
func TestStreamingAvailabilityShuffledSmall(t *testing.T) {
	for seed := range int64(300) {
		rng := rand.New(rand.NewSource(seed))
		a, ref := NewAvailability("a", 5*time.Second), newRefAvailability("a", 5*time.Second)
		a.Resolution, ref.Resolution = 100*time.Millisecond, 100*time.Millisecond
		// States in order of time; calls anywhere among them.
		type ev struct {
			state     bool
			at, end   time.Duration
			serving   bool
			desc      string
			ok        bool
			what      string
			recordPos int
		}
		var states, calls []ev
		at := time.Duration(0)
		for range 1 + rng.Intn(6) {
			at += time.Duration(rng.Intn(15)) * time.Second
			states = append(states, ev{state: true, at: at, serving: rng.Intn(3) > 0, desc: fmt.Sprint("s", rng.Intn(2))})
		}
		for i := range rng.Intn(8) {
			s := time.Duration(rng.Intn(60000)) * time.Millisecond
			calls = append(calls, ev{at: s, end: s + time.Duration(rng.Intn(8000))*time.Millisecond, ok: rng.Intn(2) == 0, what: fmt.Sprint("c", i)})
		}
		// Interleave: each call goes in at a random position among the states.
		var all []ev
		pos := make([]int, len(calls))
		for i := range calls {
			pos[i] = rng.Intn(len(states) + 1)
		}
		for i := 0; i <= len(states); i++ {
			for j, c := range calls {
				if pos[j] == i {
					all = append(all, c)
				}
			}
			if i < len(states) {
				all = append(all, states[i])
			}
		}
		last := time.Duration(0)
		for _, e := range all {
			if e.state {
				a.State(e.at, e.serving, e.desc)
				ref.State(e.at, e.serving, e.desc)
				last = e.at
			} else {
				a.Call(e.at, e.end, e.ok, e.what)
				ref.Call(e.at, e.end, e.ok, e.what)
			}
		}
		end := last + time.Duration(rng.Intn(30))*time.Second
		sameVerdict(t, fmt.Sprintf("seed %d", seed), a.Verdict(end), ref.Verdict(end))
	}
}

func TestStreamingAvailabilityBounded(t *testing.T) {
	// 100 hours: a State every second (changing every ten minutes, not
	// serving for a minute of each hour), calls every 0.5s lasting 0.2s,
	// some failing: a million observations.
	a := NewAvailability("api", 5*time.Second)
	a.Resolution = 100 * time.Millisecond
	const hours = 100
	obs, fails := 0, 0
	for s := range hours * 3600 {
		now := time.Duration(s) * time.Second
		serving, state := true, fmt.Sprint("up ", s/600%2)
		if s%3600 < 60 {
			serving, state = false, "down"
		}
		a.State(now, serving, state)
		for _, off := range []time.Duration{0, 500 * time.Millisecond} {
			start := now + off
			ok := s%1000 != 7
			if !ok {
				fails++
			}
			a.Call(start, start+200*time.Millisecond, ok, "get")
		}
		obs += 3
		if s%10000 == 0 && (len(a.calls) > 4 || len(a.spans) > 4 || len(a.failed.items) > exampleCap) {
			t.Fatalf("at %s: %d calls, %d spans, %d examples kept", now, len(a.calls), len(a.spans), len(a.failed.items))
		}
	}
	if obs < 1_000_000 {
		t.Fatalf("only %d observations", obs)
	}
	v := a.Verdict(hours * time.Hour)
	var failed, judged int
	if _, err := fmt.Sscanf(v.Detail, "%d of %d calls failed", &failed, &judged); err != nil || v.Status != harness.Violated ||
		failed == 0 || failed > fails || judged < obs/2 || !strings.HasSuffix(v.Detail, fmt.Sprintf("; and %d more", failed-exampleCap)) ||
		strings.Count(v.Detail, "get failed") != exampleCap {
		t.Fatalf("%s (%v): %.300s", v.Status, err, v.Detail)
	}
}

func TestStreamingSurplusSameVerdicts(t *testing.T) {
	for seed := range int64(100) {
		rng := rand.New(rand.NewSource(seed))
		window := time.Duration(rng.Intn(60)) * time.Second
		s, ref := NewSurplus("s", window), newRefSurplus("s", window)
		for i := range rng.Intn(200) {
			at := time.Duration(i) * time.Second
			owner := fmt.Sprint("rs", rng.Intn(2))
			want, pods := rng.Intn(5), rng.Intn(7)
			s.Sample(at, owner, want, pods)
			ref.Sample(at, owner, want, pods)
		}
		sameVerdict(t, fmt.Sprintf("seed %d", seed), s.Verdict(), ref.Verdict())
	}
	// Bounded: a surplus every other sample, for 200,000 samples.
	s := NewSurplus("s", time.Minute)
	for i := range 200_000 {
		s.Sample(time.Duration(i)*time.Second, "rs", 1, 1+i%2)
	}
	if len(s.bad.items) > exampleCap || len(s.want["rs"]) > 61 {
		t.Fatalf("%d examples, %d desires kept", len(s.bad.items), len(s.want["rs"]))
	}
	if v := s.Verdict(); !strings.HasPrefix(v.Detail, "100000 surplus creations") || !strings.HasSuffix(v.Detail, "; and 99995 more") {
		t.Fatalf("%.200s", v.Detail)
	}
}

// ---- NoTimeTravel. ----

// ttGen draws a run of clients' reads and writes: keys rotate every epoch,
// cache reads may lag, some reads find nothing or carry no RV. The
// observations come by arrival (At), ties in random order.
func ttGen(rng *rand.Rand, clients int, dur, epoch time.Duration) []RVObservation {
	type ver struct {
		at time.Duration
		rv int64
	}
	hist := map[string][]ver{}
	rv := int64(0)
	var obs []RVObservation
	servers := []string{"m1/apiserver", "m2/apiserver", ""}
	unit := []time.Duration{time.Millisecond, 100 * time.Millisecond}[rng.Intn(2)] // coarse: more ties
	for ci := range 2 * clients {
		// Two loops per client: its calls may overlap.
		client := fmt.Sprintf("u%d", ci%clients+1)
		for at := time.Duration(rng.Intn(1000)) * time.Millisecond; at < dur; {
			d := time.Duration(1+rng.Intn(2000)) * time.Millisecond
			if rng.Intn(30) == 0 {
				d = time.Duration(5000+rng.Intn(20000)) * time.Millisecond
			}
			d = max(d.Truncate(unit), unit)
			key := fmt.Sprintf("configmaps/default/cm-%d-%d", at/epoch, rng.Intn(3))
			if rng.Intn(8) == 0 {
				key = "list:configmaps"
			}
			o := RVObservation{Client: client, Key: key, Start: at, At: at + d, Server: servers[rng.Intn(len(servers))], Found: true}
			switch r := rng.Intn(20); {
			case r < 7:
				o.Mode = RVWrite
				rv++
				o.RV = rv
				hist[key] = append(hist[key], ver{o.At, rv})
			case r < 19:
				o.Mode = RVQuorum
				if r >= 12 {
					o.Mode = RVCache
				}
				if r == 18 {
					o.Mode = "watch"
				}
				h := hist[key]
				switch {
				case len(h) == 0 || rng.Intn(25) == 0:
					o.Found = false
				case rng.Intn(50) == 0:
					o.RV = 0
				case o.Mode != RVQuorum && rng.Intn(4) == 0:
					o.RV = h[rng.Intn(len(h))].rv // a lagging cache
				default:
					o.RV = h[len(h)-1].rv
				}
			default:
				o.Mode = RVQuorum
				o.Found = false // a 404
			}
			obs = append(obs, o)
			at = o.At + (time.Duration(rng.Intn(1500)) * time.Millisecond).Truncate(unit)
		}
	}
	keys := make([]int64, len(obs))
	for i := range keys {
		keys[i] = rng.Int63()
	}
	idx := make([]int, len(obs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool {
		a, b := obs[idx[i]], obs[idx[j]]
		if a.At != b.At {
			return a.At < b.At
		}
		return keys[idx[i]] < keys[idx[j]]
	})
	out := make([]RVObservation, len(obs))
	for i, j := range idx {
		out[i] = obs[j]
	}
	return out
}

func ttCompare(t *testing.T, what string, c *NoTimeTravel, ref *refNoTimeTravel) []harness.Verdict {
	t.Helper()
	if got, want := strings.Join(c.Modes(), ","), strings.Join(ref.Modes(), ","); got != want {
		t.Fatalf("%s: modes %s, want %s", what, got, want)
	}
	vs := c.Verdicts()
	for i, want := range ref.Verdicts() {
		sameVerdict(t, what, vs[i], want)
	}
	for _, m := range append(c.Modes(), RVWrite, "nothing") {
		if got, want := c.Counts(m), ref.Counts(m); got != want {
			t.Fatalf("%s: %s counts %+v, want %+v", what, m, got, want)
		}
	}
	sameVerdict(t, what, c.Verdict(RVWrite), ref.Verdict(RVWrite))
	return vs
}

func TestStreamingNoTimeTravelSameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(40) {
		rng := rand.New(rand.NewSource(seed))
		dur := []time.Duration{10 * time.Second, 5 * time.Minute, 25 * time.Minute}[rng.Intn(3)]
		obs := ttGen(rng, 1+rng.Intn(3), dur, 5*time.Minute)
		c, ref := NewNoTimeTravel("ntt"), newRefNoTimeTravel("ntt")
		jitter := seed%2 == 1
		if jitter {
			// Out of order by up to 30s (within MaxCall): still exact.
			keys := make([]time.Duration, len(obs))
			for i, o := range obs {
				keys[i] = o.At + time.Duration(rng.Int63n(int64(30*time.Second)))
			}
			idx := make([]int, len(obs))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(i, j int) bool { return keys[idx[i]] < keys[idx[j]] })
			shuffled := make([]RVObservation, len(obs))
			for i, j := range idx {
				shuffled[i] = obs[j]
			}
			obs = shuffled
		}
		for i, o := range obs {
			c.Observe(o)
			ref.Observe(o)
			if !jitter && rng.Intn(2000) == 0 {
				// In order, verdicts along the way judge alike too.
				ttCompare(t, fmt.Sprintf("seed %d after %d observations", seed, i+1), c, ref)
			}
		}
		for _, v := range ttCompare(t, fmt.Sprintf("seed %d", seed), c, ref) {
			mix[v.Status]++
		}
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown)
}

func TestStreamingNoTimeTravelBounded(t *testing.T) {
	// 100 hours of three clients reading and writing keys that rotate
	// every five minutes: a million observations, in order of arrival.
	c := NewNoTimeTravel("ntt")
	rv := map[string]int64{}
	next := int64(0)
	const n = 1_000_000
	step := 100 * time.Hour / n
	bad := 0
	clients := []string{"u1", "u2", "u3"}
	var epochKeys []string
	epoch := time.Duration(-1)
	for i := range n {
		at := time.Duration(i) * step
		client := clients[i%3]
		if e := at / (5 * time.Minute); e != epoch {
			epoch, epochKeys = e, nil
			for k := range 10 {
				epochKeys = append(epochKeys, fmt.Sprintf("configmaps/default/cm-%d-%d", e, k))
			}
		}
		key := epochKeys[(i/3)%10]
		if i%11 == 0 {
			key = "list:configmaps"
		}
		o := RVObservation{Client: client, Key: key, Start: at - 300*time.Millisecond, At: at, Found: true}
		switch i % 4 {
		case 0:
			next++
			rv[key] = next
			o.Mode, o.RV = RVWrite, next
		case 1, 2:
			o.Mode, o.RV = RVQuorum, rv[key]
			o.Found = o.RV > 0
		case 3:
			o.Mode, o.RV = RVCache, rv[key]
			if i%1001 == 3 && o.RV > 1 {
				o.RV-- // a lagging cache, now and then
				bad++
			}
			o.Found = o.RV > 0
		}
		c.Observe(o)
		if i%20000 == 0 {
			recent := 0
			for _, g := range c.groups {
				recent = max(recent, len(g.recent))
			}
			if len(c.buf) > 3000 || len(c.groups) > 150 || len(c.keys) > 60 || recent > 200 {
				t.Fatalf("at %s: %d buffered, %d histories, %d keys, %d recent sightings", at, len(c.buf), len(c.groups), len(c.keys), recent)
			}
		}
	}
	v := c.Verdict(RVCache)
	if v.Status != harness.Violated || len(c.judged[RVCache].bad.items) != exampleCap {
		t.Fatalf("%s: %.300s", v.Status, v.Detail)
	}
	counts := c.Counts(RVCache)
	if counts.Reads != n/4 || counts.Clients != 3 || counts.Violations == 0 || counts.Violations > bad {
		t.Fatalf("counts %+v (%d lagging reads)", counts, bad)
	}
	if !strings.HasSuffix(v.Detail, fmt.Sprintf("; and %d more", counts.Violations-exampleCap)) {
		t.Fatalf("%.300s", v.Detail)
	}
}

// ---- Continuity. ----

// contGen feeds both checkers a run in whole seconds (so that calls
// often share an instant): pods start and stop on three nodes, for good
// reasons mostly; every master goes down now and then, for seconds or for
// longer than contLag, each interval reported as it ends (the last one,
// if still going, at the end).
func contGen(rng *rand.Rand, c *Continuity, ref *refContinuity, dur time.Duration) {
	badRate := []int{0, 50, 400}[rng.Intn(3)]
	noStart := rng.Intn(8) == 0 // only stops: unknown, or violated
	var evs []tEvent
	running := map[[2]string]bool{}
	var order [][2]string
	n := 0
	downSince, downFor := time.Duration(-1), time.Duration(0)
	for s := time.Duration(0); s <= dur; s += time.Second {
		at := s
		if !noStart && (rng.Intn(30) == 0 || len(running) == 0 && rng.Intn(5) == 0) {
			p := [2]string{fmt.Sprint("w", rng.Intn(3)), fmt.Sprint("web-", n)}
			n++
			if rng.Intn(10) == 0 && len(order) > 0 {
				p = order[rng.Intn(len(order))] // a pod starting again, or a second start
			}
			running[p] = true
			order = append(order, p)
			evs = append(evs, tEvent{at: at, do: func() { c.Started(at, p[0], p[1]); ref.Started(at, p[0], p[1]) }})
		}
		if (len(order) > 0 || noStart) && rng.Intn(40) == 0 {
			p := [2]string{"w9", fmt.Sprint("ghost-", n)}
			if len(order) > 0 {
				p = order[rng.Intn(len(order))]
			}
			cause := []StopCause{StopDeleted, StopHostDown}[rng.Intn(2)]
			if badRate > 0 && rng.Intn(1000) < badRate {
				cause = []StopCause{"api-unreachable", "", "evicted"}[rng.Intn(3)]
			}
			if rng.Intn(20) == 0 {
				p = [2]string{"w9", fmt.Sprint("ghost-", n)} // never seen starting
				n++
			}
			delete(running, p)
			evs = append(evs, tEvent{at: at, do: func() { c.Stopped(at, p[0], p[1], cause); ref.Stopped(at, p[0], p[1], cause) }})
		}
		switch {
		case downSince < 0 && rng.Intn(300) == 0:
			downSince = at
			downFor = time.Duration(1+rng.Intn(60)) * time.Second
			if rng.Intn(3) == 0 {
				downFor = time.Duration(11+rng.Intn(15)) * time.Minute // longer than contLag
			}
		case downSince >= 0 && at-downSince >= downFor:
			from := downSince
			evs = append(evs, tEvent{at: at, do: func() { c.MastersDown(from, at); ref.MastersDown(from, at) }})
			downSince = -1
		}
	}
	runEvents(rng, evs)
	if downSince >= 0 {
		c.MastersDown(downSince, -1)
		ref.MastersDown(downSince, -1)
	}
}

func TestStreamingContinuitySameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(80) {
		rng := rand.New(rand.NewSource(seed))
		c, ref := NewContinuity("c"), newRefContinuity("c")
		dur := []time.Duration{20 * time.Second, 10 * time.Minute, 3 * time.Hour}[rng.Intn(3)]
		contGen(rng, c, ref, dur)
		for _, end := range []time.Duration{dur, dur + time.Duration(rng.Intn(100))*time.Second} {
			v := c.Verdict(end)
			sameVerdict(t, fmt.Sprintf("seed %d, end %s", seed, end), v, ref.Verdict(end))
			mix[v.Status]++
			if strings.Contains(v.Detail, "every master was down (since") {
				mix["down stop"]++
			}
			if strings.Contains(v.Detail, "pods kept running through") {
				mix["survived"]++
			}
		}
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown, "down stop", "survived")
}

func TestStreamingContinuityBounded(t *testing.T) {
	// 100 hours: ten pods, each replaced every 20 minutes (one in ten for
	// no good reason), every master down for 3 minutes each hour, and one
	// pod running throughout.
	c := NewContinuity("c")
	c.Started(0, "w9", "steady")
	for s := range 100 * 3600 {
		at := time.Duration(s) * time.Second
		if s%120 == 0 {
			k := s / 120
			pod := fmt.Sprint("web-", k)
			if k >= 10 {
				cause := StopDeleted
				if k%10 == 0 {
					cause = "api-unreachable"
				}
				c.Stopped(at, fmt.Sprint("w", (k-10)%3), fmt.Sprint("web-", k-10), cause)
			}
			c.Started(at, fmt.Sprint("w", k%3), pod)
		}
		if s%3600 == 180 {
			c.MastersDown(at-3*time.Minute, at)
		}
		if s%3600 == 0 && (len(c.open) > 12 || len(c.closed) > 20 || len(c.down) > 2 || len(c.bad.items) > exampleCap) {
			t.Fatalf("at %s: %d running, %d stopped, %d intervals, %d examples", at, len(c.open), len(c.closed), len(c.down), len(c.bad.items))
		}
	}
	v := c.Verdict(100 * time.Hour)
	if v.Status != harness.Violated || !strings.HasPrefix(v.Detail, "299 pods stopped for no good reason: pod web-0 on node w0 stopped at 20m0s (api-unreachable), running since 0s, with some master up") ||
		!strings.HasSuffix(v.Detail, "; and 294 more") {
		t.Fatalf("%s: %.400s", v.Status, v.Detail)
	}
	if c.doneN < 95 || c.doneBest.to-c.doneBest.from != 3*time.Minute || c.doneBest.pods < 1 {
		t.Fatalf("%d intervals summed up, longest survived %+v", c.doneN, c.doneBest)
	}
}

// ---- DeposedWrites. ----

// depSink takes what happens, as it happens.
type depSink interface {
	Start(lease, who string, at time.Duration)
	Stop(lease, who string, at time.Duration)
	Write(w ActorWrite)
}

// depGen feeds a run, in steps of 100ms so that calls often share an
// instant: per lease a holder acts, stops, and a successor starts (after a
// gap, at once, or before the holder stopped); the same identity may act
// again; holders issue writes that land after a delay, some long after
// their writer stopped; now and then a writer acts without the lease. The
// checker gets Start, Stop and Write as they happen; the reference gets
// every tenure (as SingleActive saw it) and the writes at the end, as the
// scenario used to.
func depGen(rng *rand.Rand, c depSink, ref *refDeposedWrites, dur time.Duration) {
	type span struct {
		lease, who string
		start, end time.Duration
	}
	// Quiet runs: successors start at least 5s after their predecessor
	// stopped, writes land within 3s, none without the lease: late writes
	// without a successor, and no violation.
	quiet := rng.Intn(3) == 0
	var spans []span
	open := map[[2]string]int{}
	var evs []tEvent
	leases := []string{"kcm", "sched"}
	inc := map[string]int{}
	ident := func(m string) string {
		if rng.Intn(3) == 0 {
			inc[m]++ // restarted: a new identity
		}
		return fmt.Sprintf("%s-%d", m, inc[m])
	}
	stopping := map[[2]string]time.Duration{} // a stop in the future
	start := func(at time.Duration, lease, who string) bool {
		if at <= stopping[[2]string{lease, who}] {
			return false
		}
		if _, ok := open[[2]string{lease, who}]; !ok {
			open[[2]string{lease, who}] = len(spans)
			spans = append(spans, span{lease, who, at, -1})
		}
		evs = append(evs, tEvent{at: at, ordered: true, do: func() { c.Start(lease, who, at) }})
		return true
	}
	stop := func(at time.Duration, lease, who string) {
		if i, ok := open[[2]string{lease, who}]; ok {
			spans[i].end = at
			delete(open, [2]string{lease, who})
		}
		evs = append(evs, tEvent{at: at, ordered: true, do: func() { c.Stop(lease, who, at) }})
	}
	n := 0
	write := func(issued time.Duration, lease, who string) {
		d := time.Duration(rng.Intn(6)) * 100 * time.Millisecond
		if rng.Intn(10) == 0 {
			d = time.Duration(rng.Intn(300)) * 100 * time.Millisecond
			if quiet {
				d = time.Duration(rng.Intn(30)) * 100 * time.Millisecond
			}
		}
		w := ActorWrite{Who: who, Lease: lease, What: fmt.Sprintf("update pods/p-%d", n), Issued: issued, Landed: issued + d}
		n++
		if w.Landed > dur {
			return
		}
		evs = append(evs, tEvent{at: w.Landed, do: func() { c.Write(w); ref.Write(w) }})
	}
	stopped := map[string]time.Duration{}
	holder := map[string]string{}
	for at := time.Duration(0); at <= dur; at += 100 * time.Millisecond {
		// Decisions are made in time order, so that what is recorded
		// matches what the events do.
		for _, l := range leases {
			h := holder[l]
			switch {
			case h == "" && rng.Intn(50) == 0 && (!quiet || at-stopped[l] >= 5*time.Second):
				if who := ident(fmt.Sprint("m", rng.Intn(3))); start(at, l, who) {
					holder[l] = who
				}
			case h != "" && rng.Intn(300) == 0:
				stop(at, l, h)
				holder[l] = ""
				stopped[l] = at
				if quiet {
					break
				}
				switch rng.Intn(4) {
				case 0: // a successor at once
					if who := ident(fmt.Sprint("m", rng.Intn(3))); start(at, l, who) {
						holder[l] = who
					}
				case 1: // the same identity again, later
					holder[l] = ""
				}
			case h != "" && !quiet && rng.Intn(1500) == 0:
				// A successor before the holder stops: both act a while.
				who := ident(fmt.Sprint("m", rng.Intn(3)))
				if who != h && start(at, l, who) {
					holder[l] = who
					later := at + time.Duration(rng.Intn(30))*100*time.Millisecond
					old := h
					if later <= dur {
						// Stopped later: record it at once (it is in the
						// future, so events sort it).
						if i, ok := open[[2]string{l, old}]; ok {
							spans[i].end = later
							delete(open, [2]string{l, old})
						}
						stopping[[2]string{l, old}] = later
						evs = append(evs, tEvent{at: later, ordered: true, do: func() { c.Stop(l, old, later) }})
					}
				}
			}
			if h := holder[l]; h != "" && rng.Intn(15) == 0 {
				write(at, l, h)
			}
			if !quiet && rng.Intn(3000) == 0 {
				write(at, l, fmt.Sprint("m", rng.Intn(3), "-", rng.Intn(3))) // maybe without the lease
			}
		}
	}
	runEvents(rng, evs)
	for _, s := range spans {
		ref.Tenure(s.lease, s.who, s.start, s.end)
	}
}

func TestStreamingDeposedWritesSameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(80) {
		rng := rand.New(rand.NewSource(seed))
		c, ref := NewDeposedWrites("d"), newRefDeposedWrites("d")
		dur := []time.Duration{5 * time.Second, 10 * time.Minute, time.Hour}[rng.Intn(3)]
		depGen(rng, c, ref, dur)
		v := c.Verdict(dur)
		sameVerdict(t, fmt.Sprintf("seed %d", seed), v, ref.Verdict(dur))
		mix[v.Status]++
		for _, s := range []string{"acted without the lease", "had been acting", "began acting", "its tenure had ended", "its tenure began only", "never held"} {
			if strings.Contains(v.Detail, s) {
				mix[harness.Status(s)]++
			}
		}
		if strings.Contains(v.Detail, "with no successor yet") && !strings.Contains(v.Detail, "(0 landed") {
			mix["late"]++
		}
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown, "acted without the lease", "had been acting", "began acting", "its tenure had ended", "late")
}

// A recorded history: tenures first, then the writes in any order (within
// MaxCall), as the former checker took them.
func TestStreamingDeposedWritesTenuresFirst(t *testing.T) {
	for seed := range int64(300) {
		rng := rand.New(rand.NewSource(seed))
		c, ref := NewDeposedWrites("d"), newRefDeposedWrites("d")
		who := []string{"m1", "m2", "m3"}
		for range rng.Intn(6) {
			l := []string{"kcm", "sched"}[rng.Intn(2)]
			w := who[rng.Intn(3)]
			s := time.Duration(rng.Intn(60)) * time.Second
			e := s + time.Duration(rng.Intn(30)-3)*time.Second
			if rng.Intn(4) == 0 {
				e = -1
			}
			c.Tenure(l, w, s, e)
			ref.Tenure(l, w, s, e)
		}
		for i := range rng.Intn(8) {
			is := time.Duration(rng.Intn(70)) * time.Second
			w := ActorWrite{Who: who[rng.Intn(3)], Lease: []string{"kcm", "sched"}[rng.Intn(2)], What: fmt.Sprint("w", i),
				Issued: is, Landed: is + time.Duration(rng.Intn(20))*time.Second}
			c.Write(w)
			ref.Write(w)
		}
		end := time.Duration(rng.Intn(100)) * time.Second
		sameVerdict(t, fmt.Sprintf("seed %d", seed), c.Verdict(end), ref.Verdict(end))
	}
}

func TestStreamingDeposedWritesBounded(t *testing.T) {
	// 100 hours: the lease changes hands every ten minutes, to a new
	// identity (a restart) every other time; the holder writes every
	// 0.4s, each landing 0.3s later (one in 5000 after its writer was
	// deposed): a million writes.
	c := NewDeposedWrites("d")
	holder, prev, k := "", "", 0
	var switched time.Duration
	bad := 0
	const n = 1_000_000
	for i := range n {
		at := time.Duration(i) * 400 * time.Millisecond
		if i%1500 == 0 {
			if holder != "" {
				c.Stop("kcm", holder, at)
			}
			k++
			prev, holder, switched = holder, fmt.Sprintf("m%d-%d", k%3, k/2), at
			c.Start("kcm", holder, at)
		}
		w := ActorWrite{Who: holder, Lease: "kcm", What: "update", Issued: at, Landed: at + 300*time.Millisecond}
		if i%6000 == 1 && prev != "" {
			// The predecessor's, issued as it stopped, landing late.
			w.Who, w.Issued = prev, switched
			bad++
		}
		c.Write(w)
		if i%10000 == 0 && (len(c.tenures) > 10 || len(c.wait) > 2 || len(c.last) > depLastCap || len(c.bad.items) > exampleCap) {
			t.Fatalf("at %s: %d tenures, %d writes waiting, %d last tenures, %d examples", at, len(c.tenures), len(c.wait), len(c.last), len(c.bad.items))
		}
	}
	v := c.Verdict(n * 400 * time.Millisecond)
	if v.Status != harness.Violated || !strings.HasPrefix(v.Detail, fmt.Sprintf("%d of %d writes landed after their writer was deposed or were made without the lease: m1-2 stopped acting under kcm at 40m0s, but its write \"update\" issued at 40m0s landed at 40m0.7s, 700ms after m2-2 had been acting at 40m0s", bad, n)) ||
		!strings.HasSuffix(v.Detail, fmt.Sprintf("; and %d more", bad-exampleCap)) {
		t.Fatalf("%s: %.400s", v.Status, v.Detail)
	}
}

// ---- Liveness. ----

type liveObs struct {
	at     time.Duration
	name   string
	ok     bool
	detail string
}

// liveGen draws samples of three conditions, once a second mostly (some
// skipped, some off the beat, some out of order), flipping now and then,
// with a few failing details and ever-changing ok details.
func liveGen(rng *rand.Rand, dur time.Duration) []liveObs {
	var obs []liveObs
	for _, name := range []string{"raft leader", "write succeeds", "api answers"} {
		ok := rng.Intn(2) == 0
		detail := "none"
		flip := []int{5, 30, 300}[rng.Intn(3)]
		for at := time.Duration(0); at <= dur; at += time.Second {
			if rng.Intn(flip) == 0 {
				ok = !ok
			}
			if rng.Intn(10) == 0 {
				detail = []string{"none", "timed out", "2 acting", strings.Repeat("x", 250)}[rng.Intn(4)]
			}
			t := at
			switch rng.Intn(40) {
			case 0:
				continue // skipped
			case 1:
				t += time.Duration(rng.Intn(900)) * time.Millisecond // off the beat
			}
			d := detail
			if ok {
				d = fmt.Sprint("rev ", rng.Intn(1000))
			}
			obs = append(obs, liveObs{t, name, ok, d})
			if rng.Intn(30) == 0 {
				obs = append(obs, liveObs{t, name, ok, d}) // twice at once
			}
		}
	}
	// Conditions interleave by time; a few samples come late.
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].at < obs[j].at })
	for range len(obs) / 50 {
		i := rng.Intn(len(obs))
		j := min(len(obs)-1, i+rng.Intn(5))
		obs[i], obs[j] = obs[j], obs[i]
	}
	return obs
}

func TestStreamingLivenessSameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(40) {
		rng := rand.New(rand.NewSource(seed))
		dur := []time.Duration{10 * time.Second, 5 * time.Minute}[rng.Intn(2)]
		obs := liveGen(rng, dur)
		for range 20 {
			l, ref := NewLiveness("live"), newRefLiveness("live")
			if rng.Intn(4) > 0 {
				l.Condition("raft leader")
				ref.Condition("raft leader")
			}
			if rng.Intn(3) == 0 {
				l.Condition("never sampled")
				ref.Condition("never sampled")
			}
			for _, o := range obs {
				l.Observe(o.at, o.name, o.ok, o.detail)
				ref.Observe(o.at, o.name, o.ok, o.detail)
			}
			if rng.Intn(5) > 0 {
				h := time.Duration(rng.Int63n(int64(dur) + 1))
				if rng.Intn(2) == 0 {
					h = h.Truncate(time.Second)
				}
				l.Healed(h)
				ref.Healed(h)
			}
			if rng.Intn(10) > 0 {
				b := time.Duration(rng.Intn(int(dur/time.Second)+1)) * time.Second
				if rng.Intn(2) == 0 {
					b += time.Duration(rng.Intn(1000)) * time.Millisecond
				}
				l.Budget(b)
				ref.Budget(b)
			}
			for range 3 {
				end := time.Duration(rng.Int63n(int64(dur) + int64(time.Minute)))
				v := l.Verdict(end)
				sameVerdict(t, fmt.Sprintf("seed %d, end %s", seed, end), v, ref.Verdict(end))
				mix[v.Status]++
			}
		}
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown)
}

func TestStreamingLivenessBounded(t *testing.T) {
	// Five conditions sampled every second for 56 hours (a million
	// samples), each flipping every half hour: memory for the flips only.
	l := NewLiveness("live")
	names := []string{"a", "b", "c", "d", "e"}
	const perCond = 200_000
	for s := range perCond {
		at := time.Duration(s) * time.Second
		for i, name := range names {
			ok := (s/1800+i)%2 == 0
			detail := "rev " + fmt.Sprint(s) // ok samples' details change
			if !ok {
				detail = "timed out"
			}
			l.Observe(at, name, ok, detail)
		}
	}
	for _, c := range l.conds {
		if flips := perCond/1800 + 1; len(c.runs) > flips {
			t.Fatalf("%s: %d runs for %d flips", c.name, len(c.runs), flips)
		}
	}
	// Healed 1000s before the end, with a, c and e holding, b and d
	// failing until the flip 800s later.
	l.Healed(time.Duration(perCond-1000) * time.Second)
	l.Budget(time.Minute)
	v := l.Verdict(time.Duration(perCond) * time.Second)
	want := "not recovered within 1m0s of the heal at 55h16m40s: " +
		"b: pending since 55h16m40s, last failing sample at 55h17m40s: timed out; first held at 55h30m0s, 13m20s after the heal, over budget; " +
		"d: pending since 55h16m40s, last failing sample at 55h17m40s: timed out; first held at 55h30m0s, 13m20s after the heal, over budget; " +
		"recovered: a after 0s, c after 0s, e after 0s"
	if v.Status != harness.Violated || v.Detail != want {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
}

// ---- RaftSafety. ----

// raftSink takes what members report.
type raftSink interface {
	Leader(at time.Duration, member, term uint64)
	Reset(member, index uint64)
	Applied(at time.Duration, member, index, term, digest, by uint64)
	LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool))
	Revision(at time.Duration, member uint64, rev int64)
	Panicked(at time.Duration, member uint64, msg string)
}

// raftGen runs members applying a log, crashing, restarting from their
// last snapshot (replaying), restored from a leader's snapshot, electing
// leaders whose logs reach back to their compaction point; now and then
// something goes wrong. Members snapshot every snapEvery entries and keep
// catchUp entries before it, well within KeepBehind.
func raftGen(rng *rand.Rand, c raftSink, ref *refRaftSafety, steps int) {
	const members, snapEvery, catchUp = 3, 50, 20
	type entry struct{ term, digest uint64 }
	var log []entry
	applied := make([]uint64, members+1)
	snap := make([]uint64, members+1)
	up := make([]bool, members+1)
	rev := make([]int64, members+1)
	term, leader := uint64(1), uint64(1)
	trouble := []int{0, 2, 20}[rng.Intn(3)] // per 10000 steps
	for m := uint64(1); m <= members; m++ {
		up[m] = true
		c.Reset(m, 0)
		ref.Reset(m, 0)
	}
	bad := func() bool { return rng.Intn(10000) < trouble }
	c.Leader(0, leader, term)
	ref.Leader(0, leader, term)
	for step := range steps {
		at := time.Duration(step) * time.Millisecond
		m := uint64(1 + rng.Intn(members))
		switch r := rng.Intn(1000); {
		case r < 300:
			log = append(log, entry{term, rng.Uint64()})
		case r < 900:
			if !up[m] || applied[m] >= uint64(len(log)) {
				continue
			}
			idx := applied[m] + 1
			e := log[idx-1]
			if bad() {
				e.digest++ // diverges
			}
			if bad() && idx+1 <= uint64(len(log)) {
				idx++ // a gap
				e = log[idx-1]
			}
			c.Applied(at, m, idx, e.term, e.digest, term)
			ref.Applied(at, m, idx, e.term, e.digest, term)
			applied[m] = idx
			if applied[m]-snap[m] >= snapEvery {
				snap[m] = applied[m]
			}
			rev[m]++
			if bad() {
				rev[m] -= 2
			}
			c.Revision(at, m, rev[m])
			ref.Revision(at, m, rev[m])
		case r < 920: // crash
			up[m] = false
		case r < 960: // restart from the last snapshot, then replay
			if up[m] {
				continue
			}
			up[m] = true
			applied[m] = snap[m]
			c.Reset(m, snap[m])
			ref.Reset(m, snap[m])
		case r < 965: // restored from the leader's snapshot
			top := slicesMax(applied)
			applied[m], snap[m] = top, top
			c.Reset(m, top)
			ref.Reset(m, top)
		case r < 985: // an election
			if !up[m] {
				continue
			}
			term++
			leader = m
			if bad() {
				term-- // two leaders in a term
			}
			c.Leader(at, leader, term)
			ref.Leader(at, leader, term)
			first := uint64(1)
			if snap[m] > catchUp {
				first = snap[m] - catchUp + 1
			}
			lterm := func(i uint64) (uint64, bool) {
				if i > uint64(len(log)) {
					return 0, false
				}
				return log[i-1].term, true
			}
			if bad() {
				short := uint64(len(log)) - uint64(rng.Intn(3))
				salt := rng.Uint64()
				lterm = func(i uint64) (uint64, bool) {
					if i > short {
						return 0, false
					}
					return log[i-1].term + (i*0x9e3779b97f4a7c15^salt)>>63, true
				}
			}
			c.LeaderLog(at, m, term, first, lterm)
			ref.LeaderLog(at, m, term, first, lterm)
		case r < 986:
			if bad() {
				c.Panicked(at, m, "tocommit is out of range")
				ref.Panicked(at, m, "tocommit is out of range")
			}
		}
	}
}

func slicesMax(s []uint64) uint64 {
	var m uint64
	for _, x := range s {
		m = max(m, x)
	}
	return m
}

func TestStreamingRaftSafetySameVerdicts(t *testing.T) {
	mix := statusMix{}
	for seed := range int64(60) {
		rng := rand.New(rand.NewSource(seed))
		c, ref := NewRaftSafety(), newRefRaftSafety()
		c.KeepBehind = 100 // ≥ snapEvery + catchUp: still exact, and dropping a lot
		steps := []int{0, 50, 20000, 60000}[rng.Intn(4)]
		raftGen(rng, c, ref, steps)
		v := c.Verdict()
		sameVerdict(t, fmt.Sprintf("seed %d", seed), v, ref.Verdict())
		if c.Committed() != ref.Committed() {
			t.Fatalf("seed %d: committed %d, want %d", seed, c.Committed(), ref.Committed())
		}
		mix[v.Status]++
		if steps >= 20000 && len(c.canonical) > ref.Committed()/2 {
			t.Errorf("seed %d: %d of %d entries kept", seed, len(c.canonical), ref.Committed())
		}
	}
	mix.check(t, harness.OK, harness.Violated, harness.Unknown)
}

func TestStreamingRaftSafetyBounded(t *testing.T) {
	// Three members keep up with a million applied entries; one restarts
	// from its snapshot now and then and replays.
	c := NewRaftSafety()
	c.Leader(0, 1, 1)
	for m := uint64(1); m <= 3; m++ {
		c.Reset(m, 0)
	}
	applied := [4]uint64{}
	const n = 1_000_000
	for i := range n {
		m := uint64(i%3 + 1)
		if i%100_003 == 0 && i > 0 {
			applied[m] = applied[m] / 1000 * 1000 // restart from the last snapshot
			c.Reset(m, applied[m])
		}
		applied[m]++
		c.Applied(time.Duration(i)*time.Millisecond, m, applied[m], 1, applied[m]*7, 1)
		if i%10000 == 0 && uint64(len(c.canonical)) > c.KeepBehind+2000 {
			t.Fatalf("after %d applied: %d entries kept", i, len(c.canonical))
		}
	}
	if v := c.Verdict(); v.Status != harness.OK || c.Committed() < n/3-1000 {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
	// A divergence far along is still caught: the member furthest behind
	// applies something else than the others did.
	m := uint64(1)
	for k := uint64(2); k <= 3; k++ {
		if applied[k] < applied[m] {
			m = k
		}
	}
	if applied[m] >= uint64(c.Committed()) {
		t.Fatalf("member %d is not behind: %v", m, applied)
	}
	c.Applied(time.Hour, m, applied[m]+1, 1, 0, 1)
	if v := c.Verdict(); v.Status != harness.Violated || !strings.Contains(v.Detail, fmt.Sprintf("index %d: member %d applied term 1 digest 0000000000000000", applied[m]+1, m)) {
		t.Fatalf("%s: %s", v.Status, v.Detail)
	}
}
