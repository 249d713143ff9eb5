package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model"
)

var errHelp = errors.New("help shown")

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runFlags are the flags shared by every command that runs simulations.
type runFlags struct {
	seed      string
	duration  time.Duration
	schedule  string
	scenario  string
	size      int
	masters   int
	workers   int
	cache     bool
	standby   bool
	topology  string
	bugs      listFlag
	sets      listFlag
	swarm     bool
	envelope  bool
	faultRate string
	faults    string
	aim       int
	out       string
	json      bool
	strict    bool
	// given holds the flags set on the command line, to tell "--workers 0"
	// (an error) from no --workers at all (the default).
	given map[string]bool
}

// MaxSimDuration bounds a run's simulated time: at a few thousand times
// real time, a hundred simulated hours take a couple of minutes (a soak
// splits more into seeds).
const MaxSimDuration = 100 * time.Hour

// noteGiven records which flags the command line set.
func (f *runFlags) noteGiven(fs *flag.FlagSet) {
	f.given = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.registerSystem(fs)
	fs.StringVar(&f.seed, "seed", "1", "root seed: a number, or \"random\" to draw one (printed)")
	fs.DurationVar(&f.duration, "duration", 10*time.Minute, "simulated time to run")
	fs.StringVar(&f.schedule, "schedule", "", "fault schedule file (text form); default: generated from the seed")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of the text summary")
	fs.BoolVar(&f.strict, "strict", false, "exit 1 when a check is unknown, not only when violated")
	fs.BoolVar(&f.swarm, "swarm", false, "draw every setting not pinned from the seed, as soak does (hasim scenarios lists the settings)")
	// soak's --workers counts worker processes: there, worker nodes are
	// pinned with --set workers=N.
	fs.IntVar(&f.masters, "masters", 0, "cluster: master hosts (the same as --size; 0: 3)")
	fs.IntVar(&f.workers, "workers", 0, "cluster: worker nodes (the setting \"workers\"; 0: 3)")
}

// registerSystem registers the flags that say what system runs and how
// its faults are generated (shared by run and soak).
func (f *runFlags) registerSystem(fs *flag.FlagSet) {
	f.seed, f.duration = "1", time.Minute
	fs.StringVar(&f.scenario, "scenario", scenarios.Default, "scenario to run (hasim scenarios lists them)")
	fs.IntVar(&f.size, "size", 0, "replicas/members/masters of the scenario (the setting \"size\"; 0: its default)")
	fs.StringVar(&f.topology, "topology", "", "stacked or external (scenarios with members; default stacked)")
	fs.Var(&f.bugs, "bug", "turn a bug switch on (repeatable; hasim bugs lists them)")
	fs.BoolVar(&f.standby, "standby-lb", false, "cluster: a standby load balancer on lb2, keepalived floating the VIP")
	fs.BoolVar(&f.cache, "cache-reads", false, "cluster: users read with resourceVersion \"0\" (from the API servers' watch caches)")
	fs.Var(&f.sets, "set", "pin a setting, NAME=VALUE (repeatable; hasim scenarios lists each scenario's settings)")
	fs.BoolVar(&f.envelope, "envelope", false, "keep clock rates and pauses inside leader election's safe envelope (0.95x-1.05x, pauses up to 1s), so that single-active failures mean a bug")
	fs.StringVar(&f.faultRate, "fault-rate", "", "faults per simulated minute, such as 2 or 0.5 (default: drawn per seed from 1, 2, 4, 8, 16)")
	fs.StringVar(&f.faults, "faults", "", "fault kinds to enable, comma-separated (default: a random subset per seed): "+strings.Join(append(append([]string(nil), harness.AllKinds...), harness.KindTerm), ", "))
	fs.IntVar(&f.aim, "aim", 0, "percent of faults aimed at the moments components announce (default: drawn per seed from 0, 25, 50; -1: none)")
	fs.StringVar(&f.out, "out", "", "directory for the trace, schedule and failure files")
}

func parseSeed(s string) (uint64, bool, error) {
	if s == "random" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, false, err
		}
		// Keep drawn seeds short enough to type.
		return binary.LittleEndian.Uint64(b[:]) % 1_000_000_000, true, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, usagef("--seed: %q is not a non-negative integer or \"random\"", s)
	}
	return n, false, nil
}

// template turns the system flags into the template cases are drawn from;
// errors name the flag.
func (f *runFlags) template() (scenarios.Template, error) {
	t := scenarios.Template{Scenario: f.scenario, Swarm: f.swarm, Envelope: f.envelope, Aim: f.aim, Pins: map[string]string{}}
	switch {
	case f.size < 0 || f.given["size"] && f.size == 0:
		return t, usagef("--size: must be positive, got %d", f.size)
	case f.masters < 0 || f.given["masters"] && f.masters == 0:
		return t, usagef("--masters: must be positive, got %d", f.masters)
	case f.workers < 0 || f.given["workers"] && f.workers == 0:
		return t, usagef("--workers: must be positive, got %d", f.workers)
	case f.masters != 0 && f.size != 0 && f.masters != f.size:
		return t, usagef("--masters %d and --size %d disagree (they are the same setting)", f.masters, f.size)
	case f.masters != 0 && f.scenario != "cluster":
		return t, usagef("--masters: the %s scenario has no masters of a cluster (use --size)", f.scenario)
	case f.aim < -1 || f.aim > 100:
		return t, usagef("--aim: %d out of range [-1, 100]", f.aim)
	}
	if _, err := model.ParseBugs(f.bugs); err != nil {
		return t, usagef("--%v", err)
	}
	t.Bugs = append([]string(nil), f.bugs...)
	sort.Strings(t.Bugs)
	from := map[string]string{} // knob → the flag that pinned it
	pin := func(flagName, knob, v string) error {
		if old, ok := t.Pins[knob]; ok && old != v {
			return usagef("%s: setting %s given twice (%s and %s)", flagName, knob, old, v)
		}
		t.Pins[knob], from[knob] = v, flagName
		return nil
	}
	for _, p := range []struct {
		flag, knob, v string
		set           bool
	}{
		{"--size", scenarios.KnobSize, strconv.Itoa(f.size), f.size != 0},
		{"--masters", scenarios.KnobSize, strconv.Itoa(f.masters), f.masters != 0},
		{"--workers", scenarios.KnobWorkers, strconv.Itoa(f.workers), f.workers != 0},
		{"--topology", scenarios.KnobTopology, f.topology, f.topology != ""},
		{"--cache-reads", scenarios.KnobCacheReads, "true", f.cache},
		{"--standby-lb", scenarios.KnobStandbyLB, "true", f.standby},
	} {
		if !p.set {
			continue
		}
		if !slices.ContainsFunc(scenarios.Knobs(f.scenario), func(k scenarios.Knob) bool { return k.Name == p.knob }) && scenarios.Knobs(f.scenario) != nil {
			return t, usagef("%s: the %s scenario has no such setting", p.flag, f.scenario)
		}
		if err := pin(p.flag, p.knob, p.v); err != nil {
			return t, err
		}
	}
	for _, kv := range f.sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return t, usagef("--set: %q is not NAME=VALUE", kv)
		}
		if err := pin("--set "+k, k, v); err != nil {
			return t, err
		}
	}
	if f.faultRate != "" {
		r, err := strconv.ParseFloat(f.faultRate, 64)
		if err != nil || r <= 0 || r > 600 {
			return t, usagef("--fault-rate: %q is not a number of faults per minute in (0, 600]", f.faultRate)
		}
		t.FaultRate = max(1, int(r*60+0.5))
	}
	if f.faults != "" {
		for _, k := range strings.Split(f.faults, ",") {
			if k = strings.TrimSpace(k); k != "" && !slices.Contains(t.Faults, k) {
				t.Faults = append(t.Faults, k)
			}
		}
	}
	if err := t.Check(); err != nil {
		// Name the flag: a setting's errors start with its name.
		name, rest, _ := strings.Cut(err.Error(), ":")
		if fl, ok := from[name]; ok {
			return t, usagef("%s:%s", fl, rest)
		}
		return t, usagef("--%v", err)
	}
	return t, nil
}

// prepared is a run ready to start.
type prepared struct {
	seed      uint64
	drawn     bool
	tpl       scenarios.Template
	sc        scenarios.Scenario
	settings  map[string]string
	sched     harness.Schedule
	generated bool
}

func (f *runFlags) prepare() (*prepared, error) {
	seed, drawn, err := parseSeed(f.seed)
	if err != nil {
		return nil, err
	}
	if f.duration <= 0 || f.duration > MaxSimDuration {
		return nil, usagef("--duration: %s out of range (0, %s]", f.duration, MaxSimDuration)
	}
	tpl, err := f.template()
	if err != nil {
		return nil, err
	}
	p := &prepared{seed: seed, drawn: drawn, tpl: tpl}
	if f.schedule != "" {
		if p.sc, p.settings, err = tpl.Build(); err != nil {
			return nil, usagef("--%v", err)
		}
		text, err := os.ReadFile(f.schedule)
		if err != nil {
			return nil, usagef("--schedule: %v", err)
		}
		p.sched, err = harness.ParseSchedule(string(text))
		if err != nil {
			return nil, usagef("--schedule %s: %v", f.schedule, err)
		}
		if err := p.sched.Validate(topologyOf(p.sc, f.duration), f.duration); err != nil {
			return nil, usagef("--schedule %s: %v", f.schedule, err)
		}
		return p, nil
	}
	c, err := tpl.Draw(seed, f.duration)
	if err != nil {
		return nil, usagef("--%v", err)
	}
	p.sc, p.settings, p.sched, p.generated = c.Scenario, c.Settings, c.Schedule, true
	return p, nil
}

// replayCommand is the one command that reproduces a run exactly.
func (f *runFlags) replayCommand(seed uint64, schedFile string) string {
	parts := []string{"go run ./cmd/hasim run", "--seed", strconv.FormatUint(seed, 10),
		"--duration", f.duration.String()}
	if f.scenario != scenarios.Default {
		parts = append(parts, "--scenario", f.scenario)
	}
	if f.size != 0 {
		parts = append(parts, "--size", strconv.Itoa(f.size))
	}
	if f.masters != 0 {
		parts = append(parts, "--masters", strconv.Itoa(f.masters))
	}
	if f.workers != 0 {
		parts = append(parts, "--workers", strconv.Itoa(f.workers))
	}
	if f.cache {
		parts = append(parts, "--cache-reads")
	}
	if f.standby {
		parts = append(parts, "--standby-lb")
	}
	if f.topology != "" {
		parts = append(parts, "--topology", f.topology)
	}
	for _, kv := range f.sets {
		parts = append(parts, "--set", kv)
	}
	if f.swarm {
		parts = append(parts, "--swarm")
	}
	if f.envelope {
		parts = append(parts, "--envelope")
	}
	if f.faultRate != "" {
		parts = append(parts, "--fault-rate", f.faultRate)
	}
	if f.faults != "" {
		parts = append(parts, "--faults", f.faults)
	}
	if f.aim != 0 {
		parts = append(parts, "--aim", strconv.Itoa(f.aim))
	}
	bugs := append([]string(nil), f.bugs...)
	sort.Strings(bugs)
	for _, b := range bugs {
		parts = append(parts, "--bug", b)
	}
	if schedFile != "" {
		parts = append(parts, "--schedule", schedFile)
	}
	return strings.Join(parts, " ")
}

type jsonCheck struct {
	Verdict  harness.Status `json:"verdict"`
	Detail   string         `json:"detail"`
	Outside  string         `json:"outside,omitempty"`
	Advisory bool           `json:"advisory,omitempty"`
	At       string         `json:"at,omitempty"` // when a violation was first seen
}

type jsonSummary struct {
	Seed        uint64               `json:"seed"`
	Scenario    string               `json:"scenario"`
	Bugs        []string             `json:"bugs"`
	TraceHash   string               `json:"trace_hash"`
	SimSeconds  float64              `json:"sim_seconds"`
	WallSeconds float64              `json:"wall_seconds"`
	SpeedUp     float64              `json:"speed_up"`
	Events      uint64               `json:"events"`
	Schedule    []string             `json:"schedule"`
	Generated   bool                 `json:"schedule_generated"`
	Settings    map[string]string    `json:"settings,omitempty"`
	Checks      map[string]jsonCheck `json:"checks"`
	Replay      string               `json:"replay"`
	TraceFile   string               `json:"trace_file,omitempty"`
	FailureFile string               `json:"failure_file,omitempty"`
	Marks       map[string]int       `json:"marks"`
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hasim run [flags]\n\nRuns one simulation: builds the scenario, applies the fault schedule, judges\nthe run with every checker and prints a summary.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f.noteGiven(fs)
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	p, err := f.prepare()
	if err != nil {
		return err
	}
	cfg := harness.Config{Scenario: p.sc, Duration: f.duration}
	artifacts := f.out
	if artifacts == "" {
		artifacts = "hasim-failures"
	}
	if a, ok := p.sc.(interface{ SetArtifacts(string) }); ok {
		a.SetArtifacts(artifacts)
	}
	var traceFile, schedFile string
	if f.out != "" {
		tf, path, err := createTrace(f.out)
		if err != nil {
			return err
		}
		defer tf.Close()
		traceFile, cfg.Trace.File = path, tf
		schedFile = filepath.Join(f.out, "schedule.txt")
		if err := os.WriteFile(schedFile, []byte(p.sched.String()), 0o644); err != nil {
			return usagef("--out: %v", err)
		}
	}
	if isTerminal(stderr) && !f.json {
		// A run of more than a moment shows where it is on a terminal,
		// on one line that it clears when done.
		start, shown := time.Now(), time.Time{}
		cfg.Progress = func(now time.Duration) {
			if el := time.Since(start); el > 2*time.Second && time.Since(shown) > 200*time.Millisecond {
				shown = time.Now()
				fmt.Fprintf(stderr, "\rsimulated %s of %s (%.0fx real time)\x1b[K", now.Truncate(time.Second), f.duration, float64(now)/float64(el))
			}
		}
		defer func() {
			if !shown.IsZero() {
				fmt.Fprint(stderr, "\r\x1b[K")
			}
		}()
	}
	res, err := harness.Run(cfg, p.seed, p.sched)
	if err != nil {
		var ve *harness.ValidationError
		if errors.As(err, &ve) {
			return usagef("--schedule %s: %v", f.schedule, err)
		}
		return err
	}
	replaySched := ""
	if !p.generated {
		replaySched = f.schedule
	}
	replay := f.replayCommand(p.seed, replaySched)

	violated, unknown := false, false
	for _, v := range res.Verdicts {
		violated = violated || v.Status == harness.Violated
		unknown = unknown || v.Status == harness.Unknown
	}
	failed := res.Failed()
	failureFile := ""
	if violated {
		failureFile, err = writeFailure(artifacts, p, f.duration, res)
		if err != nil {
			return err
		}
		replay = "go run ./cmd/hasim repro " + failureFile
	}
	if f.json {
		js := jsonSummary{
			Seed: res.Seed, Scenario: res.Scenario, Bugs: f.bugs, TraceHash: res.TraceHash,
			SimSeconds: res.SimTime.Seconds(), WallSeconds: res.Wall.Seconds(), SpeedUp: res.SpeedUp(),
			Events: res.Events, Generated: p.generated, Checks: map[string]jsonCheck{},
			Replay: replay, TraceFile: traceFile, Schedule: []string{}, FailureFile: failureFile,
			Marks: res.Marks, Settings: p.settings,
		}
		if js.Bugs == nil {
			js.Bugs = []string{}
		}
		for _, e := range p.sched {
			js.Schedule = append(js.Schedule, e.String())
		}
		for _, v := range res.Verdicts {
			jc := jsonCheck{Verdict: v.Status, Detail: v.Detail, Outside: v.Outside, Advisory: v.Advisory}
			if v.At > 0 {
				jc.At = v.At.String()
			}
			js.Checks[string(v.Check)] = jc
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(js); err != nil {
			return err
		}
	} else {
		printSummary(stdout, &f, p, &res, replay, traceFile, schedFile, failureFile)
	}
	if failed || (f.strict && unknown) {
		return errViolated
	}
	return nil
}

func printSummary(w io.Writer, f *runFlags, p *prepared, res *harness.Result, replay, traceFile, schedFile, failureFile string) {
	seedNote := ""
	if p.drawn {
		seedNote = " (drawn at random)"
	}
	fmt.Fprintf(w, "hasim run: scenario %s, seed %d%s", res.Scenario, res.Seed, seedNote)
	if len(f.bugs) > 0 {
		fmt.Fprintf(w, ", bugs %s", strings.Join(f.bugs, ","))
	}
	fmt.Fprintln(w)
	if len(p.settings) > 0 {
		var parts []string
		for _, k := range harness.SortedKeys(p.settings) {
			parts = append(parts, k+"="+p.settings[k])
		}
		how := "pinned"
		if p.tpl.Swarm {
			how = "drawn from the seed unless pinned"
		}
		fmt.Fprintf(w, "settings (%s): %s\n", how, strings.Join(parts, ", "))
	}
	if p.tpl.Envelope {
		fmt.Fprintln(w, "faults kept inside leader election's envelope (clock rates 0.95x..1.05x, pauses up to 1s)")
	}
	if wr, ok := p.sc.(interface{ Warnings() []string }); ok {
		for _, msg := range wr.Warnings() {
			fmt.Fprintf(w, "warning: %s\n", msg)
		}
	}
	src := "generated from the seed"
	if !p.generated {
		src = "from " + f.schedule
	}
	fmt.Fprintf(w, "schedule (%s, %d entries):\n", src, len(p.sched))
	for _, e := range p.sched {
		fmt.Fprintf(w, "  %s\n", e)
	}
	if len(p.sched) == 0 {
		fmt.Fprintln(w, "  (no faults)")
	}
	skipped := 0
	for _, r := range res.Faults {
		skipped += len(r.Skipped)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  %d fault parts did not apply when they fired (see the trace)\n", skipped)
	}
	fmt.Fprintf(w, "simulated %s in %.3fs of wall time: %.0fx real time, %d events (%.0f/s)\n",
		res.SimTime, res.Wall.Seconds(), res.SpeedUp(), res.Events, float64(res.Events)/res.Wall.Seconds())
	fmt.Fprintf(w, "trace hash %s (%d lines)\n", res.TraceHash, res.Lines)
	fmt.Fprintln(w, "checks:")
	width := 0
	for _, v := range res.Verdicts {
		width = max(width, len(v.Check))
	}
	for _, v := range res.Verdicts {
		fmt.Fprintf(w, "  %-8s %-*s  %s%s\n", v.Status, width, v.Check, scenarios.CapDetail(v.Detail), scenarios.VerdictNote(v))
	}
	if len(res.Marks) > 0 {
		var parts []string
		for _, k := range harness.SortedKeys(res.Marks) {
			parts = append(parts, fmt.Sprintf("%s=%d", k, res.Marks[k]))
		}
		fmt.Fprintf(w, "marks: %s\n", strings.Join(parts, " "))
	}
	if traceFile != "" {
		fmt.Fprintf(w, "trace: %s\nschedule: %s\n", traceFile, schedFile)
	}
	if failureFile != "" {
		fmt.Fprintf(w, "failure file: %s\n", failureFile)
	}
	fmt.Fprintf(w, "replay: %s\n", replay)
}

// writeFailure saves a failure file for a violated run in dir.
func writeFailure(dir string, p *prepared, d time.Duration, res harness.Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("failure file: %v", err)
	}
	fl, err := scenarios.NewFailure(p.sc, p.seed, d, p.sched, res, "hasim run")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("failure-%s-%d.json", res.Scenario, res.Seed))
	if err := fl.Write(path); err != nil {
		return "", fmt.Errorf("failure file: %v", err)
	}
	return path, nil
}

func cmdBugs(args []string, w io.Writer) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	bugs := model.AllBugs()
	width := 0
	for _, b := range bugs {
		width = max(width, len(b.Name))
	}
	for _, b := range bugs {
		fmt.Fprintf(w, "%-*s  %s (caught by %s)\n", width, b.Name, b.Plants, scenarios.JoinChecks(b.Caught))
	}
	return nil
}

func cmdScenarios(args []string, w io.Writer) error {
	if len(args) > 0 {
		return usagef("takes no arguments")
	}
	for _, n := range scenarios.Names() {
		fmt.Fprintln(w, n)
		name, _, _ := strings.Cut(n, ":")
		for _, k := range scenarios.Knobs(name) {
			drawn := "pinned only"
			if len(k.Choices) > 0 {
				drawn = "swarm draws " + strings.Join(k.Choices, ", ")
			}
			fmt.Fprintf(w, "    --set %s=…  %s (%s)\n", k.Name, k.Doc, drawn)
		}
	}
	return nil
}

// topologyOf is what a schedule for the scenario is validated against
// before a run: the hosts, processes and roles its generation options name,
// and its cues.
func topologyOf(sc scenarios.Scenario, d time.Duration) harness.Topology {
	return sc.GenOptions(d).Topology()
}
