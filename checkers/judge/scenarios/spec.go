package scenarios

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model/counter"
	"hasim/model/election"
	"hasim/model/kube"
	"hasim/model/store"
)

// Spec is a scenario's complete, serializable configuration: with a seed
// and a schedule it determines a run exactly.
type Spec struct {
	Scenario string           `json:"scenario"`
	Counter  *counter.Config  `json:"counter,omitempty"`
	Store    *store.Config    `json:"store,omitempty"`
	Election *election.Config `json:"election,omitempty"`
	Cluster  *kube.Config     `json:"cluster,omitempty"`
}

// SpecOf returns the spec of a built scenario.
func SpecOf(sc Scenario) (Spec, error) {
	switch s := sc.(type) {
	case *counter.Scenario:
		c := s.Cfg
		return Spec{Scenario: "counter", Counter: &c}, nil
	case *judge.Store:
		c := s.Cfg
		return Spec{Scenario: "store", Store: &c}, nil
	case *judge.Election:
		c := s.Cfg
		return Spec{Scenario: "election", Election: &c}, nil
	case *judge.Cluster:
		c := s.Cfg
		return Spec{Scenario: "cluster", Cluster: &c}, nil
	}
	return Spec{}, fmt.Errorf("scenario %T has no spec", sc)
}

// Build makes the scenario a spec describes.
func (sp Spec) Build() (Scenario, error) {
	switch sp.Scenario {
	case "counter":
		if sp.Counter == nil || sp.Store != nil || sp.Election != nil || sp.Cluster != nil {
			return nil, fmt.Errorf("spec: scenario counter needs a \"counter\" config and nothing else")
		}
		return &counter.Scenario{Cfg: *sp.Counter}, nil
	case "store":
		if sp.Store == nil || sp.Counter != nil || sp.Election != nil || sp.Cluster != nil {
			return nil, fmt.Errorf("spec: scenario store needs a \"store\" config and nothing else")
		}
		return judge.NewStore(*sp.Store), nil
	case "election":
		if sp.Election == nil || sp.Counter != nil || sp.Store != nil || sp.Cluster != nil {
			return nil, fmt.Errorf("spec: scenario election needs an \"election\" config and nothing else")
		}
		return judge.NewElection(*sp.Election), nil
	case "cluster":
		if sp.Cluster == nil || sp.Counter != nil || sp.Store != nil || sp.Election != nil {
			return nil, fmt.Errorf("spec: scenario cluster needs a \"cluster\" config and nothing else")
		}
		return judge.NewCluster(*sp.Cluster), nil
	}
	return nil, fmt.Errorf("spec: scenario: unknown %q", sp.Scenario)
}

// FailureVersion is the version of the failure file format.
const FailureVersion = 1

// Verdict is a check's verdict as a failure file keeps it.
type Verdict struct {
	Verdict  harness.Status `json:"verdict"`
	Detail   string         `json:"detail"`
	Outside  string         `json:"outside,omitempty"`
	Advisory bool           `json:"advisory,omitempty"`
}

// Fails reports whether the verdict fails its run (harness.Verdict.Fails).
func (v Verdict) Fails() bool { return v.Verdict == harness.Violated && v.Outside == "" && !v.Advisory }

// Failure is a self-contained failure file: everything a replay needs
// (spec, seed, duration, schedule) and what the run gave (trace hash,
// verdicts), so that the replay can check it got the same.
type Failure struct {
	Version   int                           `json:"hasim_failure"`
	Spec      Spec                          `json:"spec"`
	Seed      uint64                        `json:"seed"`
	Duration  string                        `json:"duration"`
	Schedule  string                        `json:"schedule"`
	TraceHash string                        `json:"trace_hash"`
	Verdicts  map[harness.CheckName]Verdict `json:"verdicts"`
	// Found says where the failure came from (a property, a soak, a
	// run), for people; replays ignore it.
	Found string `json:"found,omitempty"`
	// Class is what kind of failure it is: a check violated (the
	// default), a crash or a time-out of the simulation itself, or a
	// divergence (the same inputs gave another trace).
	Class string `json:"class,omitempty"`
	// Shrunk says the schedule was reduced from a larger failing one.
	Shrunk bool `json:"shrunk,omitempty"`
	// Exec, for a failure of a user's test binary (hasim soak --exec), is
	// the binary that replays it: Spec is empty then, and hasim repro runs
	// the binary with ReproEnv set to the failure file.
	Exec *ExecSpec `json:"exec,omitempty"`
}

// Failure classes.
const (
	ClassViolation  = "violation"
	ClassCrash      = "crash"
	ClassTimeout    = "timeout"
	ClassDivergence = "divergence"
)

// NewFailure describes a finished run.
func NewFailure(sc Scenario, seed uint64, d time.Duration, sched harness.Schedule, res harness.Result, found string) (Failure, error) {
	spec, err := SpecOf(sc)
	if err != nil {
		return Failure{}, err
	}
	f := NewExecFailure(ExecSpec{}, seed, d, sched, res, found)
	f.Spec, f.Exec = spec, nil
	return f, nil
}

// NewExecFailure describes a finished run of a user's test binary, e:
// the binary replays it (see ReproEnv). A soak of the binary (hasim soak
// --exec) fills e in for its workers, which may leave it empty.
func NewExecFailure(e ExecSpec, seed uint64, d time.Duration, sched harness.Schedule, res harness.Result, found string) Failure {
	f := Failure{Version: FailureVersion, Seed: seed, Duration: d.String(), Schedule: sched.String(),
		TraceHash: res.TraceHash, Verdicts: map[harness.CheckName]Verdict{}, Found: found, Exec: &e}
	for _, v := range res.Verdicts {
		f.Verdicts[v.Check] = Verdict{Verdict: v.Status, Detail: v.Detail, Outside: v.Outside, Advisory: v.Advisory}
	}
	return f
}

// Write saves the failure file (indented JSON).
func (f Failure) Write(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadFailure reads and checks a failure file; errors name the field.
func ReadFailure(path string) (Failure, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Failure{}, err
	}
	var f Failure
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Failure{}, fmt.Errorf("%s: not a hasim failure file: %v", path, err)
	}
	switch {
	case f.Version != FailureVersion:
		return Failure{}, fmt.Errorf("%s: hasim_failure: version %d, this hasim reads %d", path, f.Version, FailureVersion)
	case f.TraceHash == "" && (f.Class == "" || f.Class == ClassViolation || f.Class == ClassDivergence):
		return Failure{}, fmt.Errorf("%s: trace_hash: missing", path)
	case f.Class != "" && f.Class != ClassViolation && f.Class != ClassCrash && f.Class != ClassTimeout && f.Class != ClassDivergence:
		return Failure{}, fmt.Errorf("%s: class: unknown %q", path, f.Class)
	}
	if f.Exec != nil {
		if f.Exec.Binary == "" {
			return Failure{}, fmt.Errorf("%s: exec.binary: missing", path)
		}
		if f.Spec.Scenario != "" {
			return Failure{}, fmt.Errorf("%s: spec: a failure of a test binary (exec) has no spec, got scenario %q", path, f.Spec.Scenario)
		}
		// The binary's own duration when none is given.
		if _, err := harness.ParseSchedule(f.Schedule); err != nil {
			return Failure{}, fmt.Errorf("%s: schedule: %v", path, err)
		}
		if d, err := time.ParseDuration(f.Duration); f.Duration != "" && (err != nil || d <= 0) {
			return Failure{}, fmt.Errorf("%s: duration: %q is not a positive duration", path, f.Duration)
		}
		return f, nil
	}
	if _, err := f.Plan(); err != nil {
		return Failure{}, fmt.Errorf("%s: %v", path, err)
	}
	return f, nil
}

// Plan is a failure made ready to run.
type Plan struct {
	Scenario Scenario
	Duration time.Duration
	Schedule harness.Schedule
}

// Plan parses what the failure file holds.
func (f Failure) Plan() (Plan, error) {
	if f.Exec != nil {
		return Plan{}, fmt.Errorf("a failure of the test binary %s: it replays there (hasim repro runs it)", f.Exec.Binary)
	}
	sc, err := f.Spec.Build()
	if err != nil {
		return Plan{}, err
	}
	d, sched, err := f.parts()
	if err != nil {
		return Plan{}, err
	}
	return Plan{Scenario: sc, Duration: d, Schedule: sched}, nil
}

// parts parses the failure's duration and schedule.
func (f Failure) parts() (time.Duration, harness.Schedule, error) {
	d, err := time.ParseDuration(f.Duration)
	if err != nil || d <= 0 {
		return 0, nil, fmt.Errorf("duration: %q is not a positive duration", f.Duration)
	}
	sched, err := harness.ParseSchedule(f.Schedule)
	if err != nil {
		return 0, nil, fmt.Errorf("schedule: %v", err)
	}
	return d, sched, nil
}
