package ctrl

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/checkers/judge/scenarios"
)

// underHasim reports whether hasim started this binary (a soak worker or
// a replay).
func underHasim() bool {
	return os.Getenv(scenarios.WorkerEnv) != "" || os.Getenv(scenarios.ReproEnv) != ""
}

// TestSoakSubjectBroken is the failing subject of TestSoakExec (see
// brokenWidgetSetup). It runs only under hasim.
func TestSoakSubjectBroken(t *testing.T) {
	if !underHasim() {
		t.Skip("the subject of TestSoakExec: it runs under hasim soak --exec and hasim repro")
	}
	Check(t, brokenWidgetSetup())
}

// leaked keeps what leakyReconciler allocates.
var leaked [][]byte

// leakyReconciler keeps 32 MB more at every reconcile.
type leakyReconciler struct{}

func (leakyReconciler) Reconcile(context.Context, reconcile.Request) (reconcile.Result, error) {
	b := make([]byte, 32<<20)
	for i := range b {
		b[i] = 1
	}
	leaked = append(leaked, b)
	return reconcile.Result{RequeueAfter: time.Second}, nil
}

// TestSoakSubjectLeaks is TestSoakExec's subject that leaks memory; it
// runs only under hasim.
func TestSoakSubjectLeaks(t *testing.T) {
	if !underHasim() {
		t.Skip("the subject of TestSoakExec: it runs under hasim soak --exec")
	}
	s := widgetSetup(func(Replica) reconcile.Reconciler { return leakyReconciler{} })
	s.Settled = nil
	Check(t, s)
}

// hasimCLI builds the hasim command into dir and returns its path.
func hasimCLI(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hasim")
	if out, err := exec.Command("go", "build", "-o", bin, "hasim/cmd/hasim").CombinedOutput(); err != nil {
		t.Fatalf("go build hasim: %v\n%s", err, out)
	}
	return bin
}

// run runs a command and returns its exit code and output.
func runCmd(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return 0, string(out)
}

// hasim soak --exec runs this test binary as its workers: a passing
// test's seeds all pass, a failing one's fail, each with a failure file
// (and a shrunk one) that hasim repro replays through the binary; hasim
// report merges the results.
func TestSoakExec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hasim command")
	}
	dir := t.TempDir()
	hasim := hasimCLI(t, dir)
	soak := func(name, test string) (int, string) {
		out := filepath.Join(dir, name)
		code, text := runCmd(t, hasim, "soak", "--out", out, "--seeds", "4", "--workers", "2", "--verify-every", "2",
			"--exec", os.Args[0], "--", "-test.run=^"+test+"$")
		return code, out + "\n" + text
	}
	code, text := soak("ok", "TestCheckPassesTheWidgetReconciler")
	okDir, _, _ := strings.Cut(text, "\n")
	if code != 0 {
		t.Fatalf("soak of a passing test: exit %d\n%s", code, text)
	}
	code, text = soak("broken", "TestSoakSubjectBroken")
	brokenDir, _, _ := strings.Cut(text, "\n")
	if code != 1 {
		t.Fatalf("soak of a failing test: exit %d, want 1\n%s", code, text)
	}
	var rep struct {
		Seeds, Failures int
		Verified        int                 `json:"determinism_verified"`
		ByCheck         map[string][]uint64 `json:"by_check"`
	}
	code, text = runCmd(t, hasim, "report", "--json", okDir)
	if err := json.Unmarshal([]byte(text), &rep); err != nil || code != 0 || rep.Seeds != 4 || rep.Failures != 0 || rep.Verified == 0 {
		t.Fatalf("report of the passing soak: exit %d, %+v (%v)\n%s", code, rep, err, text)
	}
	code, text = runCmd(t, hasim, "report", "--json", brokenDir)
	if err := json.Unmarshal([]byte(text), &rep); err != nil || code != 1 || rep.Seeds != 4 || rep.Failures != 4 || len(rep.ByCheck["invariant/never-configured"]) != 4 {
		t.Fatalf("report of the failing soak: exit %d, %+v (%v)\n%s", code, rep, err, text)
	}
	shrunk, _ := filepath.Glob(filepath.Join(brokenDir, "failures", "*-shrunk.json"))
	files, _ := filepath.Glob(filepath.Join(brokenDir, "failures", "failure-*.json"))
	if len(files) == 0 {
		t.Fatal("no failure files")
	}
	replay := files[0]
	if len(shrunk) > 0 {
		replay = shrunk[0]
	}
	code, text = runCmd(t, hasim, "repro", "--out", filepath.Join(dir, "repro"), replay)
	if code != 1 || !strings.Contains(text, "identical to the recorded run") || !strings.Contains(text, "invariant/never-configured") {
		t.Fatalf("repro %s: exit %d, want 1 (the failure recurs)\n%s", replay, code, text)
	}
	if _, err := os.Stat(filepath.Join(dir, "repro", "trace.txt")); err != nil {
		t.Errorf("repro --out wrote no trace: %v", err)
	}
	// A worker whose heap passes --max-memory-mb fails its seed as a
	// crash, out of memory, rather than taking the machine down.
	leakDir := filepath.Join(dir, "leak")
	code, text = runCmd(t, hasim, "soak", "--out", leakDir, "--seeds", "1", "--workers", "1", "--max-memory-mb", "64",
		"--exec", os.Args[0], "--", "-test.run=^TestSoakSubjectLeaks$")
	results, _ := os.ReadFile(filepath.Join(leakDir, "results.jsonl"))
	if code != 1 || !strings.Contains(string(results), `"class":"crash"`) || !strings.Contains(string(results), "out of memory") {
		t.Fatalf("soak of a leaking test: exit %d, want 1 and the seed failed out of memory\n%s\n%s", code, text, results)
	}
	// go test's -hasim.replay takes the soak's failure file too, in the
	// test -run selects (TestReplaySubject has the same setup).
	f, err := scenarios.ReadFailure(replay)
	if err != nil {
		t.Fatal(err)
	}
	code, text = runCmd(t, os.Args[0], "-test.run=^TestReplaySubject$", "-test.count=1", "-test.v", "-hasim.replay="+replay)
	if code == 0 || !strings.Contains(text, "fails: invariant/never-configured violated") || !strings.Contains(text, "(hash "+f.TraceHash+")") ||
		strings.Contains(text, "differs from the one recorded") {
		t.Fatalf("-hasim.replay=%s (recorded hash %s): exit %d\n%s", replay, f.TraceHash, code, text)
	}
}

// brokenWidgetSetup is the widget reconciler under an invariant that
// breaks once its config exists: every case fails.
func brokenWidgetSetup() Setup {
	s := widgetSetup(func(r Replica) reconcile.Reconciler { return &widgetReconciler{c: r.GetClient()} })
	s.Invariants = func() []Invariant {
		return []Invariant{{Name: "never-configured", Check: func(st State) error {
			var cfg WidgetConfig
			if st.Get(client.ObjectKey{Namespace: "default", Name: configName("w1")}, &cfg) == nil {
				return errors.New("the config exists")
			}
			return nil
		}}}
	}
	return s
}

// TestReplaySubject fails under Check when TestReplayCommand starts it
// ($HASIM_CTRL_REPLAY_SUBJECT), and replays with -hasim.replay.
func TestReplaySubject(t *testing.T) {
	if os.Getenv("HASIM_CTRL_REPLAY_SUBJECT") == "" && *replayFlag == "" {
		t.Skip("the subject of TestReplayCommand")
	}
	Check(t, brokenWidgetSetup())
}

// The replay command a failing Check prints replays the case exactly: it
// fails again, with the recorded trace hash.
func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReplaySubject$", "-test.count=1")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "HASIM_CTRL_REPLAY_SUBJECT=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the failing subject passed:\n%s", out)
	}
	_, after, ok := strings.Cut(string(out), "-hasim.replay=")
	if !ok {
		t.Fatalf("no replay command in the report:\n%s", out)
	}
	casePath := strings.Fields(after)[0]
	data, err := os.ReadFile(casePath)
	if err != nil {
		t.Fatal(err)
	}
	var recorded string
	for _, line := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(line, "trace-hash "); ok {
			recorded = h
		}
	}
	code, text := runCmd(t, os.Args[0], "-test.run=^TestReplaySubject$", "-test.count=1", "-test.v", "-hasim.replay="+casePath)
	if code == 0 || !strings.Contains(text, "fails: invariant/never-configured violated") ||
		recorded == "" || !strings.Contains(text, "(hash "+recorded+")") || strings.Contains(text, "differs from the one recorded") {
		t.Fatalf("replay of %s (recorded hash %s): exit %d\n%s", casePath, recorded, code, text)
	}
}
