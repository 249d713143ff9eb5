package properties

import (
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model/store"
)

// TestFormerFalseAlarms replays the failure files of runs that a checker
// once judged violated on a clean build, and requires every check ok. Each
// file keeps its spec, seed and schedule, so it replays the same run even
// after schedule generation changes. A file's "found" says what was wrong.
func TestFormerFalseAlarms(t *testing.T) {
	files, err := filepath.Glob("testdata/false-alarms/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no former false alarms under testdata/false-alarms (%v)", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := scenarios.ReadFailure(path)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := f.Plan()
			if err != nil {
				t.Fatal(err)
			}
			res, err := harness.Run(harness.Config{Scenario: plan.Scenario, Duration: plan.Duration, Trace: harness.TraceOptions{Keep: true}}, f.Seed, plan.Schedule)
			if err != nil {
				t.Fatal(err)
			}
			details := map[harness.CheckName]string{}
			for _, v := range res.Verdicts {
				details[v.Check] = v.Detail
				// Advisory checks report what leader election's lack of
				// fencing allows, and a violation outside the envelope is
				// expected: neither is an alarm. Anything else must be ok.
				if v.Status != harness.OK && !v.Advisory && (v.Status != harness.Violated || v.Outside == "") {
					t.Errorf("%s: %s: %s (recorded: %s)", v.Check, v.Status, v.Detail, f.Verdicts[v.Check].Verdict)
				}
			}
			// The replay must still exercise what made the alarm.
			for check, was := range f.Verdicts {
				if !was.Fails() {
					continue
				}
				switch check {
				case "raft-safety":
					if !staleTermLeader(res.Trace) {
						t.Errorf("the replay no longer has a member leading a term older than one already led")
					}
				case "api-available":
					cut := slices.ContainsFunc(res.Faults, func(r harness.FaultRecord) bool {
						for i, f := range r.Faults {
							switch f.(type) {
							case harness.Partition, harness.Isolate:
								if r.Applied(i) {
									return true
								}
							}
						}
						return false
					})
					if !cut {
						t.Errorf("the replay no longer cuts anything off")
					}
				case "no-surplus-pods":
					if !strings.Contains(details[check], "surplus creations excused") && !strings.Contains(details[check], "samples skipped while the truth was unknown") && !briefScaleUp(res.Trace, time.Second) {
						t.Errorf("the replay no longer creates a surplus pod to excuse, nor creates pods for a scale-up undone within a second: %s", details[check])
					}
				case "api-linearizable", "no-time-travel/quorum":
					if !staleAnswer(res.Trace) && !userKeyGap(res.Trace, 2*time.Minute) {
						t.Errorf("the replay no longer has a member answer a request of a process's previous life, nor a ConfigMap left alone for two minutes within its epoch")
					}
				case "recovers-after-heal":
					if !lostCallMovedOn(res.Trace) {
						t.Errorf("the replay no longer has a store call cut by a partition and sent again elsewhere before the keepalive gave up on its member")
					}
				default:
					t.Errorf("no way to tell that the replay still exercises the %s alarm", check)
				}
			}
		})
	}
}

var becameLeader = regexp.MustCompile(`(?m)/etcd became leader term=(\d+)$`)

// staleTermLeader says whether a member became leader of a term below the
// highest term some member had already led: the legal case that leader
// completeness judged by real time mistook for a violation.
func staleTermLeader(trace []byte) bool {
	top := uint64(0)
	for _, m := range becameLeader.FindAllSubmatch(trace, -1) {
		term, _ := strconv.ParseUint(string(m[1]), 10, 64)
		if term < top {
			return true
		}
		top = max(top, term)
	}
	return false
}

var (
	procStart  = regexp.MustCompile(`^\S+ start (\S+) incarnation=(\d+)$`)
	storeReq   = regexp.MustCompile(`^\S+ deliver #\d+ (\S+)->\S+/etcd req id=(\d+) `)
	storeResp  = regexp.MustCompile(`^\S+ deliver #\d+ \S+/etcd->(\S+) resp id=(\d+) `)
	storeWatch = regexp.MustCompile(`^\S+ deliver #\d+ (\S+)->\S+/etcd watch id=(\d+) `)
)

// staleAnswer says whether an etcd member's answer reached a process that
// had restarted since it sent the request: the answer a restarted client
// must not take for one of its own.
func staleAnswer(trace []byte) bool {
	life := map[string]string{}   // process → its incarnation now
	sentIn := map[string]string{} // process + request id → the incarnation that sent it
	for line := range strings.SplitSeq(string(trace), "\n") {
		if m := procStart.FindStringSubmatch(line); m != nil {
			life[m[1]] = m[2]
		} else if m := storeReq.FindStringSubmatch(line); m != nil {
			sentIn[m[1]+" "+m[2]] = life[m[1]]
		} else if m := storeWatch.FindStringSubmatch(line); m != nil {
			sentIn[m[1]+" "+m[2]] = life[m[1]]
		} else if m := storeResp.FindStringSubmatch(line); m != nil {
			if inc, ok := sentIn[m[1]+" "+m[2]]; ok && inc != life[m[1]] {
				return true
			}
		}
	}
	return false
}

var userCall = regexp.MustCompile(`^(\S+) deliver #\d+ u\d+/user->\S+ api \w+ conn=\d+ id=\d+ configmaps/(default/cm-\d+-\d+)`)

// userKeyGap says whether users left one of their ConfigMaps without a
// call for longer than gap, and then came back to it.
func userKeyGap(trace []byte, gap time.Duration) bool {
	last := map[string]float64{}
	for line := range strings.SplitSeq(string(trace), "\n") {
		m := userCall.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[1], 64)
		if prev, ok := last[m[2]]; ok && at-prev > gap.Seconds() {
			return true
		}
		last[m[2]] = at
	}
	return false
}

var (
	rsPut      = regexp.MustCompile(`^(\S+) deliver #\d+ \S+/etcd->\S+ watch-resp id=\d+ rev=\d+ put k="/registry/replicasets/default/web" v="replicas=(\d+)" create=\d+ mod=(\d+) `)
	rsCreating = regexp.MustCompile(`^\S+ note \S+/cm replicaset default/web: \d+ pods, want (\d+): creating`)
)

// briefScaleUp says whether the ReplicaSet was scaled up and back down
// within less than d, with a controller creating pods for the short-lived
// spec in between: a spec the once-a-second workload samples could miss.
func briefScaleUp(trace []byte, d time.Duration) bool {
	seen := map[string]bool{} // revisions already sighted
	var prev, peak int        // the spec before the rise, and the raised one
	rose := -1.0              // when the raised spec was first sighted (-1: none)
	acted := false            // a controller created pods for the raised spec
	for line := range strings.SplitSeq(string(trace), "\n") {
		if m := rsCreating.FindStringSubmatch(line); m != nil && rose >= 0 {
			if n, _ := strconv.Atoi(m[1]); n == peak {
				acted = true
			}
			continue
		}
		m := rsPut.FindStringSubmatch(line)
		if m == nil || seen[m[3]] {
			continue
		}
		seen[m[3]] = true
		at, _ := strconv.ParseFloat(m[1], 64)
		n, _ := strconv.Atoi(m[2])
		if rose >= 0 && n < peak && acted && at-rose < d.Seconds() {
			return true
		}
		rose, acted = -1, false
		if n > prev {
			rose, peak = at, n
		}
		prev = n
	}
	return false
}

var (
	storeCut    = regexp.MustCompile(`^(\S+) drop #\d+ (\S+)->\S+/etcd \(partition\) req id=(\d+) `)
	storeResent = regexp.MustCompile(`^(\S+) deliver #\d+ (\S+)->\S+/etcd req id=(\d+) `)
)

// lostCallMovedOn says whether a store client sent a call again after a
// partition cut it, sooner than the keepalive would have given up on the
// member (store.KeepaliveDead): the client took the call for lost, as a
// broken gRPC connection would fail it, instead of waiting for its
// caller's deadline.
func lostCallMovedOn(trace []byte) bool {
	cut := map[string]float64{} // sender + request id → when it was cut
	for line := range strings.SplitSeq(string(trace), "\n") {
		if m := storeCut.FindStringSubmatch(line); m != nil {
			at, _ := strconv.ParseFloat(m[1], 64)
			cut[m[2]+" "+m[3]] = at
		} else if m := storeResent.FindStringSubmatch(line); m != nil {
			at, _ := strconv.ParseFloat(m[1], 64)
			if was, ok := cut[m[2]+" "+m[3]]; ok && at-was < store.KeepaliveDead.Seconds() {
				return true
			}
		}
	}
	return false
}
