package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium finds a headless browser: .ci/run installs Debian's chromium,
// so in CI its absence is a failure; elsewhere the test is skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH; .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium on PATH (apt-get install chromium to run this test)")
	return ""
}

// The timeline page of a failure, opened in a real browser, renders the
// fault rows and the raft leader rows (drawn by the page's script: the
// served HTML itself has none).
func TestTimelineRendersInABrowser(t *testing.T) {
	browser := chromium(t)
	cases := []struct {
		name, scenario, bug, sched, failure string
		seed, bars                          int
		lanes                               []string
	}{
		{"store", "store", "store-stale-read", "at 10s isolate @raft-leader for 5s\nat 20s crash m2 for 3s\n", "failure-store-2.json", 2, 2,
			[]string{`data-lane="faults"`, `class="span fault"`, `data-lane="raft leader"`,
				`class="span leader"`, `data-lane="host m2"`, `data-lane="availability"`}},
		{"cluster", "cluster", "lb-no-health-check", "at 60s crash m1\nat 90s kill @active-scheduler for 20s\n", "failure-cluster-1.json", 1, 2,
			[]string{`data-lane="faults"`, `class="span fault"`, `data-lane="raft leader"`, `data-lane="active controller-manager"`,
				`data-lane="active scheduler"`, `class="span leader"`, `data-lane="LB backends"`, `data-lane="API through the LB"`,
				`class="span down"`, `data-lane="host m1"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sched := filepath.Join(dir, "s.txt")
			os.WriteFile(sched, []byte(c.sched), 0o644)
			run := filepath.Join(dir, "run")
			if code, _, errs := hasim(t, "run", "--scenario", c.scenario, "--seed", strconv.Itoa(c.seed), "--duration", "3m",
				"--bug", c.bug, "--schedule", sched, "--out", run); code != 1 {
				t.Fatalf("run: exit %d %s", code, errs)
			}
			failure := filepath.Join(run, c.failure)
			out := filepath.Join(dir, "repro")
			code, stdout, errs := hasim(t, "repro", "--out", out, failure)
			if code != 1 || !strings.Contains(stdout, "timeline: ") {
				t.Fatalf("repro: exit %d\n%s%s", code, stdout, errs)
			}
			page := filepath.Join(out, "timeline.html")
			raw, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), `class="span fault"`) {
				t.Fatal("the served page already holds the rows; the test would not show the script works")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+filepath.Join(dir, "profile"), "--dump-dom", "file://"+page)
			dom, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			d := string(dom)
			for _, want := range c.lanes {
				if !strings.Contains(d, want) {
					t.Errorf("the rendered page lacks %s", want)
				}
			}
			if n := strings.Count(d, `class="span fault"`); n != c.bars {
				t.Errorf("%d fault bars rendered, want %d (one per schedule entry)", n, c.bars)
			}
		})
	}
}
