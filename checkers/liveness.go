package checkers

import (
	"fmt"
	"strings"
	"time"

	"hasim/harness"
)

// Liveness judges whether a system recovered after the schedule's last
// fault healed: every declared condition ("raft leader", "write succeeds",
// "linearizable read succeeds", …) must hold — have an ok sample — at or
// after the heal and no later than heal+budget.
//
// A scenario declares the conditions, says when the last fault healed and
// what the budget is (see RecoveryBudget), and feeds samples as it probes;
// Verdict judges at the end of the run:
//
//   - ok: every condition had an ok sample in [heal, heal+budget]; the
//     detail says, per condition, how long after the heal it first held;
//   - violated: heal+budget ≤ end, and some condition was sampled in that
//     window but never ok; the detail names each pending condition with its
//     last failing sample (and when it finally held, if it did, too late);
//   - unknown: the run ended before heal+budget with some condition still
//     pending (the detail says how much time was missing), a condition was
//     never sampled in the window, or no budget or condition was given.
//
// Samples before the heal are ignored, as are samples after the end given
// to Verdict. Without a Healed call (no faults) the run is judged from time
// 0. Observing an undeclared condition declares it.
//
// Samples are kept compressed, as runs: consecutive samples of a condition
// with the same outcome (and, when failing, the same detail) taken at a
// steady pace are one run, so that a condition sampled every second for
// hours costs memory only for its changes.
type Liveness struct {
	name      harness.CheckName
	healAt    time.Duration
	healed    bool
	budget    time.Duration
	budgetSet bool
	conds     []*liveCond
	byName    map[string]int
}

type liveCond struct {
	name string
	runs []liveRun
}

// liveRun stands for n samples with the same outcome (and detail, when
// failing) taken at first, first+step, …, last.
type liveRun struct {
	first, last time.Duration
	step        time.Duration // valid when n ≥ 2
	n           int64
	ok          bool
	detail      string // of a failing run
}

// at returns the time of the run's k-th sample.
func (r *liveRun) at(k int64) time.Duration { return r.first + time.Duration(k)*r.step }

// from returns the index of the run's first sample at or after t (n when
// none).
func (r *liveRun) from(t time.Duration) int64 {
	switch {
	case t <= r.first:
		return 0
	case t > r.last:
		return r.n
	}
	// r.step > 0 here: first < t ≤ last.
	return int64((t - r.first + r.step - 1) / r.step)
}

// upTo returns the index of the run's last sample at or before t (-1 when
// none).
func (r *liveRun) upTo(t time.Duration) int64 {
	switch {
	case t < r.first:
		return -1
	case t >= r.last:
		return r.n - 1
	}
	return int64((t - r.first) / r.step)
}

type liveSample struct {
	at     time.Duration
	ok     bool
	detail string
}

// NewLiveness returns a checker whose verdicts carry the check name name,
// e.g. "recovers-after-heal".
func NewLiveness(name harness.CheckName) *Liveness {
	return &Liveness{name: name, byName: map[string]int{}}
}

// Healed records when the last fault ended. Call it once; if called again,
// the latest time counts. Never calling it means there were no faults: the
// run is judged from time 0.
func (l *Liveness) Healed(at time.Duration) {
	if !l.healed || at > l.healAt {
		l.healAt = at
	}
	l.healed = true
}

// Budget sets how long after the heal recovery may take.
func (l *Liveness) Budget(d time.Duration) {
	l.budget = max(d, 0)
	l.budgetSet = true
}

// Condition declares a named condition that must become true after the
// heal. Conditions are reported in the order they were declared.
func (l *Liveness) Condition(name string) { l.cond(name) }

func (l *Liveness) cond(name string) *liveCond {
	if i, ok := l.byName[name]; ok {
		return l.conds[i]
	}
	l.byName[name] = len(l.conds)
	c := &liveCond{name: name}
	l.conds = append(l.conds, c)
	return c
}

// Observe records a sample of condition name at true time at: whether it
// held, and what was seen (a leader's id, an error).
func (l *Liveness) Observe(at time.Duration, name string, ok bool, detail string) {
	c := l.cond(name)
	if ok {
		detail = "" // an ok sample's detail is never told
	}
	if n := len(c.runs); n > 0 {
		r := &c.runs[n-1]
		if r.ok == ok && r.detail == detail && at >= r.last && (r.n == 1 || at-r.last == r.step) {
			if r.n == 1 {
				r.step = at - r.last
			}
			r.last = at
			r.n++
			return
		}
	}
	c.runs = append(c.runs, liveRun{first: at, last: at, n: 1, ok: ok, detail: detail})
}

// liveJudgement is one condition's outcome.
type liveJudgement struct {
	held     bool          // an ok sample in the window
	after    time.Duration // how long after the heal it first held
	sampled  bool          // sampled in the window at all
	lastFail *liveSample   // the last failing sample in the window
	late     *liveSample   // the first ok sample after the window, if any
}

// Verdict judges the run, which ended at true time end.
func (l *Liveness) Verdict(end time.Duration) harness.Verdict {
	v := harness.Verdict{Check: l.name, Status: harness.Unknown}
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

	js := make([]liveJudgement, len(l.conds))
	for i, c := range l.conds {
		j := &js[i]
		for k := range c.runs {
			r := &c.runs[k]
			// Samples in [heal, window].
			if a, b := r.from(heal), r.upTo(window); a <= b {
				j.sampled = true
				if t := r.at(a); r.ok && (!j.held || t-heal < j.after) {
					j.held, j.after = true, t-heal
				}
				if t := r.at(b); !r.ok && (j.lastFail == nil || t >= j.lastFail.at) {
					j.lastFail = &liveSample{at: t, ok: false, detail: r.detail}
				}
			}
			// The first ok sample in (window, end].
			if a := max(r.from(heal), r.upTo(window)+1); r.ok && a < r.n {
				if t := r.at(a); t <= end && (j.late == nil || t < j.late.at) {
					j.late = &liveSample{at: t, ok: true}
				}
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
			pending = append(pending, c.name+" ("+liveFailing(j.lastFail)+")")
		default:
			s := fmt.Sprintf("%s: pending since %s, %s", c.name, fmtT(heal), liveFailing(j.lastFail))
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
		v.At = deadline // the budget ran out then, with some condition still pending
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

// liveFailing describes a condition's last failing sample.
func liveFailing(s *liveSample) string {
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

// liveList joins at most MaxProblems items.
func liveList(items []string, sep string) string {
	if len(items) <= MaxProblems {
		return strings.Join(items, sep)
	}
	return strings.Join(items[:MaxProblems], sep) + fmt.Sprintf("%sand %d more", sep, len(items)-MaxProblems)
}

// RecoveryBudget is how long after the last fault heals a cluster may take
// to recover (DESIGN §4), from its timings. The phases are taken as
// sequential, which bounds them all:
//
//   - raft: 4 × electionTimeout. A follower campaigns once its randomized
//     election timeout (between 1 and 2 × electionTimeout) passes without
//     hearing a leader; one round may fail (a split vote, or PreVote refused
//     by members that still heard the old leader within their timeout, or
//     a CheckQuorum step-down first), so allow two such rounds.
//   - leaseDuration: a new controller-manager or scheduler must wait a full
//     lease duration after it first sees the old holder's record before it
//     may take over (client-go judges validity by its own observation time).
//   - lbRise: how long the load balancer takes to mark a recovered API
//     server up again (health-check interval × rise count).
//   - slack: everything else the caller wants to allow: retry periods and
//     their jitter, request timeouts of calls in flight at the heal, the
//     workload converging.
//
// For the store alone the lease and LB terms are zero. Negative inputs
// count as zero.
func RecoveryBudget(electionTimeout, leaseDuration, lbRise, slack time.Duration) time.Duration {
	return 4*max(electionTimeout, 0) + max(leaseDuration, 0) + max(lbRise, 0) + max(slack, 0)
}
