package harness

import (
	"crypto/rand"
	"fmt"
	"io"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Status is a checker's verdict.
type Status string

const (
	// OK: the property held on this run.
	OK Status = "ok"
	// Violated: the property failed; Detail holds the evidence.
	Violated Status = "violated"
	// Unknown: the checker could not decide (a time-out, a run too short
	// to judge); never to be read as ok.
	Unknown Status = "unknown"
)

// CheckName names a check: verdicts, bug switches, failure files and soak
// reports use it. The names of hasim's own checks are constants in package
// model.
type CheckName string

// Of names one instance of a check, as "single-active/kube-scheduler".
func (c CheckName) Of(part string) CheckName { return c + "/" + CheckName(part) }

// Verdict is one checker's judgement of a run.
type Verdict struct {
	Check  CheckName `json:"-"`
	Status Status    `json:"verdict"`
	Detail string    `json:"detail"`
	// Outside says why the run went outside the envelope under which the
	// property is claimed (a clock too fast, a pause too long); "" when it
	// stayed inside, or the property claims no envelope. A violation
	// outside is expected: it shows where the settings break, and is not
	// a failure of the run.
	Outside string `json:"outside,omitempty"`
	// Advisory marks a check that is reported but not required (a
	// violation is worth knowing, not a bug: deposed-writes, since leader
	// election provides no fencing).
	Advisory bool `json:"advisory,omitempty"`
	// At is when the violation was first seen, in true time; 0 when
	// unknown or not violated. Timelines mark the violation there. (A
	// violation needs something to have happened first, so 0 is free.)
	At time.Duration `json:"at,omitempty"`
}

// Fails reports whether the verdict fails the run: a violation of a
// required check inside its envelope.
func (v Verdict) Fails() bool { return v.Status == Violated && v.Outside == "" && !v.Advisory }

// Scenario builds a simulated system on a Sim and judges the finished run.
// Build adds hosts, processes, roles and workload; Check reads the history
// the scenario recorded and the final state, and returns one verdict per
// checker, in a fixed order.
type Scenario interface {
	Name() string
	Build(s *Sim) error
	Check(s *Sim) []Verdict
}

// Config is everything a run depends on besides its seed and schedule.
type Config struct {
	// Scenario is the simulated system and its checkers.
	Scenario Scenario
	// Duration is how much simulated time the run lasts.
	Duration time.Duration
	// Network is the default condition of every link; zero means DefaultLink.
	Network *LinkParams
	// Trace says what to do with the trace.
	Trace TraceOptions
	// Progress, if set, hears the simulated time every ProgressEvery
	// events, for a progress display. It must not touch the simulation:
	// the run is the same with or without it.
	Progress func(now time.Duration)
}

// ProgressEvery is how many events pass between Progress calls.
const ProgressEvery = 1 << 16

// Result is what a run produced.
type Result struct {
	Seed      uint64
	Scenario  string
	TraceHash string        // hex SHA-256 of the trace, "" when tracing is off
	Trace     []byte        // the whole trace, when Trace.Keep
	SimTime   time.Duration // simulated time covered
	Wall      time.Duration // wall-clock time the run took, checks included
	CheckWall time.Duration // of which the checkers took this much
	Events    uint64        // events the kernel processed
	Lines     uint64        // trace lines
	Verdicts  []Verdict
	Faults    []FaultRecord
	Marks     map[string]int // coverage marks hit

	// Sim is the finished simulation, for callers that inspect it further.
	Sim *Sim
}

// Failed reports whether some verdict fails the run (Verdict.Fails).
func (r *Result) Failed() bool {
	for _, v := range r.Verdicts {
		if v.Fails() {
			return true
		}
	}
	return false
}

// SpeedUp returns simulated time per wall time.
func (r *Result) SpeedUp() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.SimTime) / float64(r.Wall)
}

var running atomic.Bool

// RunGCPercent is the garbage collector target (GOGC) Run uses while a
// simulation runs, unless the process set a higher one (or turned GC off).
const RunGCPercent = 400

// Run runs one simulation: Build the scenario on a new Sim, validate and load
// the schedule, run for cfg.Duration, then Check. The outcome is a pure
// function of (cfg, seed, schedule): the same inputs give a byte-identical
// trace on any machine.
//
// raft and other libraries draw randomness from crypto/rand.Reader, a
// process-wide variable. Run installs a reader derived from the seed (the
// "crypto" stream) for the run's duration and restores the previous one
// afterwards; so two simulations must not run at once in one process, and Run
// panics if asked to. Run simulations one after another, or in separate
// processes (as soak does).
func Run(cfg Config, seed uint64, sched Schedule) (Result, error) {
	if cfg.Scenario == nil {
		return Result{}, fmt.Errorf("config: scenario: none given")
	}
	if cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("config: duration: must be positive, got %s", cfg.Duration)
	}
	if !running.CompareAndSwap(false, true) {
		panic("hasim: a second simulation started while another is running in this process; " +
			"crypto/rand.Reader is process-global, so run simulations one at a time per process " +
			"(hasim soak runs one simulation per worker process)")
	}
	defer running.Store(false)
	// A simulation makes much short-lived garbage around a small live heap;
	// the default GC target would collect every few hundred microseconds.
	// Run trades a few MB of memory for fewer collections, and puts the
	// process's setting back afterwards.
	if old := debug.SetGCPercent(RunGCPercent); old > RunGCPercent || old < 0 {
		debug.SetGCPercent(old)
	} else {
		defer debug.SetGCPercent(old)
	}

	s := NewSim(seed, cfg.Trace)
	s.end = cfg.Duration
	s.progress = cfg.Progress
	if cfg.Network != nil {
		s.Network().SetDefault(*cfg.Network)
	}
	old := rand.Reader //detlint:allow cryptorand the runner owns the process's crypto source for the run
	rand.Reader = s.Rand("crypto")
	defer func() { rand.Reader = old }() //detlint:allow cryptorand restoring the saved reader

	s.headerf("run seed=%d scenario=%s duration=%s", seed, cfg.Scenario.Name(), cfg.Duration)
	if err := cfg.Scenario.Build(s); err != nil {
		return Result{}, fmt.Errorf("scenario %s: %w", cfg.Scenario.Name(), err)
	}
	if err := sched.Validate(s, cfg.Duration); err != nil {
		return Result{}, err
	}
	for _, e := range sched {
		s.headerf("schedule %s", e)
	}
	start := time.Now() //detlint:allow wallclock measures the run's own speed; never reaches the simulation
	s.load(sched)
	s.start()
	s.runUntil(cfg.Duration)
	s.unfired()
	s.headerf("end events=%d", s.steps)
	// Verdicts stay out of the trace: the trace is the simulation alone, and a
	// checker with a time budget may decide differently on a slower machine.
	simWall := time.Since(start) //detlint:allow wallclock measures the run's own speed
	verdicts := cfg.Scenario.Check(s)
	wall := time.Since(start) //detlint:allow wallclock measures the run's own speed
	res := Result{
		Seed:      seed,
		Scenario:  cfg.Scenario.Name(),
		TraceHash: s.tr.sum(),
		SimTime:   s.now,
		Wall:      wall,
		CheckWall: wall - simWall,
		Events:    s.steps,
		Lines:     s.tr.n,
		Verdicts:  verdicts,
		Faults:    s.faultLog,
		Marks:     s.Marks(),
		Sim:       s,
	}
	if cfg.Trace.Keep {
		res.Trace = s.tr.all
	}
	if s.tr.err != nil {
		return res, fmt.Errorf("trace file: %w", s.tr.err)
	}
	return res, nil
}

func (s *Sim) headerf(format string, args ...any) {
	if !s.tr.on {
		return
	}
	b := s.tr.begin(s.now)
	b = fmt.Appendf(b, format, args...)
	s.tr.end(b)
}

var _ io.Reader = (*Rand)(nil)
