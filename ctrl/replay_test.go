package ctrl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/model/kube"
)

// -hasim.replay reads the case files Check writes and the failure files
// of soaks of a test binary; anything else is refused, saying why.
func TestReadCase(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sched, err := harness.ParseSchedule("at 10s kill @active-widgets")
	if err != nil {
		t.Fatal(err)
	}
	exec := filepath.Join(dir, "exec.json")
	f := scenarios.NewExecFailure(scenarios.ExecSpec{Binary: "/bin/operator.test"}, 42, 3*time.Minute, sched, harness.Result{TraceHash: "abc"}, "soak")
	if err := f.Write(exec); err != nil {
		t.Fatal(err)
	}
	sc, err := readCase(exec)
	if err != nil || sc.test != "" || sc.c.seed != 42 || sc.duration != 3*time.Minute || sc.traceHash != "abc" || sc.c.sched.String() != sched.String() {
		t.Errorf("a soak's failure file read as %+v, %v", sc, err)
	}
	builtin := filepath.Join(dir, "builtin.json")
	f.Exec, f.Spec = nil, scenarios.Spec{Scenario: "cluster", Cluster: &kube.Config{}}
	if err := f.Write(builtin); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{write("case.txt", caseHeader+"\ntest TestX\nseed 1\nduration 1m0s\ntrace-hash h\nschedule\nat 10s kill @active-widgets\n"), ""},
		{write("notes.txt", "hello"), "not a hasim/ctrl case file (nor a soak's failure file)"},
		{write("bad.json", "{\"seed\": 1}"), "hasim_failure"},
		{builtin, "replay it with hasim repro"},
		{write("noschedule.txt", caseHeader+"\ntest TestX\nseed 1\n"), "no schedule line"},
		{write("badseed.txt", caseHeader+"\ntest TestX\nseed x\nschedule\n"), "invalid syntax"},
	} {
		_, err := readCase(c.path)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.path, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error saying %q", c.path, err, c.want)
		}
	}
}
