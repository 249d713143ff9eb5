//go:build unix

package deploy

// The recipes' scripts, run: each container's own script, under sh or bash
// as its command says, with stand-ins for hasim, kubectl and sleep, and the
// volume's mount path moved to a temporary directory. What the scripts do
// (exit codes, the marker a finished shard leaves, SIGTERM, the wait's
// polling) is what the pod failure policies and the merge rely on.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type scriptRun struct {
	t     *testing.T
	dir   string // stand-ins, and what they record
	mount string // where the volume's mount path now points
	cmd   *exec.Cmd
	name  string
	out   strings.Builder
}

// newScript prepares container c's script, with env added to its own; start
// it once its inputs are in place.
func newScript(t *testing.T, m *manifest, c container, mountPath string, env map[string]string, stubs map[string]string) *scriptRun {
	t.Helper()
	argv := append(strs(c.m, "command"), strs(c.m, "args")...)
	if len(argv) < 3 || argv[1] != "-c" {
		t.Fatalf("container %s: want [shell, -c, script], have %q", c.name(), argv)
	}
	if _, err := os.Stat(argv[0]); err != nil {
		t.Skipf("container %s runs %s, which this machine lacks", c.name(), argv[0])
	}
	r := &scriptRun{t: t, dir: t.TempDir(), mount: t.TempDir()}
	realSleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	// sleep is cut short, so that a poll every 30s takes milliseconds.
	stubs["sleep"] = "exec " + realSleep + " 0.01\n"
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := argv[2]
	if mountPath != "" {
		script = strings.ReplaceAll(script, mountPath+"/", r.mount+"/")
		script = strings.ReplaceAll(script, mountPath+`"`, r.mount+`"`)
	}
	r.cmd = exec.Command(argv[0], append([]string{"-c", script}, argv[3:]...)...)
	// Its own process group, so that what it leaves running (a stand-in
	// whose shell died without stopping it) is killed with it, and a
	// bounded wait for its output once it has exited.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.WaitDelay = 2 * time.Second
	r.cmd.Env = append(os.Environ(), "PATH="+r.dir+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_DIR="+r.dir)
	for k, v := range envOf(m, c) {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.name = c.name()
	return r
}

func (r *scriptRun) start() {
	r.t.Helper()
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		if r.cmd.ProcessState == nil {
			r.cmd.Wait()
		}
		if r.t.Failed() {
			r.t.Logf("container %s said:\n%s", r.name, r.out.String())
		}
	})
}

// wait returns the script's exit code, or -1 if it is still running after d.
func (r *scriptRun) wait(d time.Duration) int {
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		} else if err != nil {
			r.t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return -1
	}
}

func (r *scriptRun) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, name))
	return strings.TrimSpace(string(b))
}

// A stand-in hasim: records its arguments, and exits $HASIM_EXIT; with
// HASIM_HOLD set it runs until SIGTERM (a soak in progress), then exits 0
// as hasim does when stopped before any failure.
const stubHasim = `echo "$@" > "$STUB_DIR/hasim-args"
if [ -n "${HASIM_HOLD:-}" ]; then
  trap 'exit 0' TERM
  touch "$STUB_DIR/hasim-running"
  while :; do sleep 1; done
fi
exit "${HASIM_EXIT:-0}"
`

// A stand-in kubectl: "get job $JOB" answers the next line of
// $STUB_DIR/states (the last one again once they run out; ERROR fails the
// call; NONE answers nothing); any other name is not found.
const stubKubectl = `if [ "$1 $2 $3" != "get job $JOB" ]; then
  echo "Error from server (NotFound): jobs \"$3\" not found" >&2
  exit 1
fi
n=$(cat "$STUB_DIR/calls" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$STUB_DIR/calls"
line=$(sed -n "${n}p" "$STUB_DIR/states")
[ -n "$line" ] || line=$(tail -n 1 "$STUB_DIR/states")
case "$line" in
  ERROR) echo "Error from server (InternalError)" >&2; exit 1 ;;
  NONE) ;;
  *) printf '%s' "$line" ;;
esac
`

// TestShardScript runs the soak container's script: hasim soak gets shard
// JOB_COMPLETION_INDEX+1, its exit code is the pod's and is recorded in
// the shard's directory for the merge; stopped by SIGTERM, it stops hasim
// and exits 143, recording nothing, so the index is not taken for done.
func TestShardScript(t *testing.T) {
	for _, m := range loadManifests(t) {
		for _, job := range indexedJobs(m) {
			sh, err := soakShardOf(job)
			if err != nil || sh.mountPath == "" {
				continue // TestIndexedSoakJob says why
			}
			completions, _ := num(job.v, "spec", "completions")
			for _, code := range []int{0, 1, 2} {
				r := newScript(t, m, sh.c, sh.mountPath, map[string]string{"JOB_COMPLETION_INDEX": "2", "HASIM_EXIT": strconv.Itoa(code)},
					map[string]string{"hasim": stubHasim})
				r.start()
				if got := r.wait(10 * time.Second); got != code {
					t.Errorf("%s: hasim soak exited %d, the shard %d", job, code, got)
				}
				args := r.read("hasim-args")
				if want := fmt.Sprintf("--shard 3/%d ", completions); !strings.Contains(args+" ", want) {
					t.Errorf("%s: index 2 ran hasim %s; want %s", job, args, want)
				}
				out, _ := flag(strings.Fields(args), "--out")
				if !strings.HasPrefix(out, r.mount+"/") {
					t.Errorf("%s: --out %s is not on the volume", job, out)
				}
				b, err := os.ReadFile(filepath.Join(out, "exit-code"))
				if got := strings.TrimSpace(string(b)); err != nil || got != strconv.Itoa(code) {
					t.Errorf("%s: exit %d recorded as %q (%v)", job, code, got, err)
				}
			}
			r := newScript(t, m, sh.c, sh.mountPath, map[string]string{"JOB_COMPLETION_INDEX": "0", "HASIM_HOLD": "1"},
				map[string]string{"hasim": stubHasim})
			// An exit code left by an earlier run of the shard (a soak
			// resumed or extended) must not outlive this one.
			stale := filepath.Join(shardDir(m, sh, 1, r.mount), "exit-code")
			os.MkdirAll(filepath.Dir(stale), 0o755)
			os.WriteFile(stale, []byte("0\n"), 0o644)
			r.start()
			// SIGTERM once hasim runs (and the script's trap is set, right
			// after it starts).
			for i := 0; i < 500; i++ {
				if _, err := os.Stat(filepath.Join(r.dir, "hasim-running")); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			r.cmd.Process.Signal(syscall.SIGTERM)
			if got := r.wait(10 * time.Second); got != 143 {
				t.Errorf("%s: a shard stopped by SIGTERM exits %d, want 143 (hasim's own 0 would complete the index)", job, got)
			}
			if _, err := os.Stat(stale); err == nil {
				t.Errorf("%s: a shard stopped before its end recorded an exit code; the merge would take it for finished", job)
			}
		}
	}
}

// shardDir is where shard i's soak directory is (the soak's --out, with
// the volume at mount).
func shardDir(m *manifest, sh soakShard, i int, mount string) string {
	vars := assignments(sh.c.script())
	for k, v := range envOf(m, sh.c) {
		vars[k] = v
	}
	out := shardExprRE.ReplaceAllString(sh.out, strconv.Itoa(i))
	return mount + strings.TrimPrefix(expand(out, vars), sh.mountPath)
}

// TestMergeScripts runs the merge Job's containers: the wait ends on the
// soak Job's Complete or Failed, and only then, riding out API errors; the
// report merges every shard's directory, and its exit code is the verdict:
// hasim report's own, or 2 when a shard did not run to its end.
func TestMergeScripts(t *testing.T) {
	for _, m := range loadManifests(t) {
		for _, soak := range indexedJobs(m) {
			sh, err := soakShardOf(soak)
			if err != nil || sh.mountPath == "" {
				continue
			}
			soakName := str(soak.v, "metadata", "name")
			var merge doc
			for _, d := range m.docs {
				if str(d.v, "kind") == "Job" && len(scriptRunning(podSpec(d), "report")) > 0 {
					merge = d
				}
			}
			if merge.v == nil {
				continue // TestMergeJob says why
			}
			ps := podSpec(merge)
			for _, c := range containers(ps) {
				if !c.init {
					continue
				}
				for _, tc := range []struct {
					states []string
					done   bool
				}{
					{[]string{"NONE", "SuccessCriteriaMet ", "SuccessCriteriaMet Complete "}, true},
					{[]string{"ERROR", "FailureTarget ", "FailureTarget Failed "}, true},
					{[]string{"Failed "}, true},
					{[]string{"NONE"}, false},
					{[]string{"Suspended "}, false},
					{[]string{"FailureTarget "}, false},
					{[]string{"ERROR"}, false},
				} {
					r := newScript(t, m, c, "", map[string]string{"JOB": soakName},
						map[string]string{"kubectl": stubKubectl})
					os.WriteFile(filepath.Join(r.dir, "states"), []byte(strings.Join(tc.states, "\n")+"\n"), 0o644)
					r.start()
					// Waiting goes on forever; half a second of it is
					// dozens of looks at the Job.
					limit := 500 * time.Millisecond
					if tc.done {
						limit = 10 * time.Second
					}
					got := r.wait(limit)
					calls, _ := strconv.Atoi(r.read("calls"))
					switch {
					case tc.done && got != 0:
						t.Errorf("%s: init container %s, job/%s going %q: exit %d, want it to end (0)", merge, c.name(), soakName, tc.states, got)
					case tc.done && calls < len(tc.states):
						t.Errorf("%s: init container %s ended after %d looks at job/%s, before it reached %q", merge, c.name(), calls, soakName, tc.states[len(tc.states)-1])
					case !tc.done && got != -1:
						t.Errorf("%s: init container %s, job/%s %q: exit %d, want it to go on waiting", merge, c.name(), soakName, tc.states, got)
					}
				}
			}
			report := scriptRunning(ps, "report")[0]
			shards, _ := strconv.Atoi(envOf(m, report)["SHARDS"])
			if shards < 1 {
				t.Errorf("%s: SHARDS %q", merge, envOf(m, report)["SHARDS"])
				continue
			}
			for _, tc := range []struct {
				name     string
				codes    map[int]string // a shard's exit-code ("" none; "-" no directory at all)
				hasim    int
				want     int
				complete bool // every shard's directory was passed to hasim report
			}{
				{"all passed", nil, 0, 0, true},
				{"failures found", map[int]string{2: "1"}, 1, 1, true},
				{"a shard crashed out", map[int]string{shards: ""}, 0, 2, true},
				{"a shard with failures crashed out", map[int]string{1: ""}, 1, 1, true},
				{"a shard never started", map[int]string{2: "-"}, 0, 2, false},
				{"a shard's usage error", map[int]string{1: "2"}, 0, 2, true},
				{"a shard that found failures finished", map[int]string{3: "1"}, 0, 0, true},
			} {
				r := newScript(t, m, report, sh.mountPath, map[string]string{"HASIM_EXIT": strconv.Itoa(tc.hasim)},
					map[string]string{"hasim": stubHasim})
				// The shards' directories, where the soak's --out puts them.
				for i := 1; i <= shards; i++ {
					dir := shardDir(m, sh, i, r.mount)
					code, ok := tc.codes[i]
					if !ok {
						code = "0"
					}
					if code == "-" {
						continue
					}
					os.MkdirAll(dir, 0o755)
					os.WriteFile(filepath.Join(dir, "soak.json"), []byte("{}\n"), 0o644)
					if code != "" {
						os.WriteFile(filepath.Join(dir, "exit-code"), []byte(code+"\n"), 0o644)
					}
				}
				r.start()
				if got := r.wait(10 * time.Second); got != tc.want {
					t.Errorf("%s: %s, hasim report exiting %d: the merge exits %d, want %d", merge, tc.name, tc.hasim, got, tc.want)
				}
				args := strings.Fields(r.read("hasim-args"))
				n := 0
				for _, a := range args {
					if strings.HasPrefix(a, r.mount+"/") && !strings.HasSuffix(a, ".html") {
						n++
					}
				}
				if want := shards - len(tc.codes); tc.complete {
					if n != shards {
						t.Errorf("%s: %s: hasim report got %d shard directories, want %d", merge, tc.name, n, shards)
					}
				} else if n != want {
					t.Errorf("%s: %s: hasim report got %d shard directories, want %d", merge, tc.name, n, want)
				}
			}
		}
	}
}
