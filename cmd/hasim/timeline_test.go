package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	dir := t.TempDir()
	sched := filepath.Join(dir, "s.txt")
	os.WriteFile(sched, []byte("at 10s isolate @raft-leader for 5s\nat 20s crash m2 for 3s\n"), 0o644)
	run := filepath.Join(dir, "run")
	if code, _, errs := hasim(t, "run", "--scenario", "store", "--seed", "2", "--duration", "40s",
		"--bug", "store-stale-read", "--schedule", sched, "--out", run); code != 1 {
		t.Fatalf("run: exit %d %s", code, errs)
	}
	failure := filepath.Join(run, "failure-store-2.json")
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
	for _, want := range []string{`data-lane="faults"`, `class="span fault"`, `data-lane="raft leader"`,
		`class="span leader"`, `data-lane="host m2"`, `data-lane="availability"`} {
		if !strings.Contains(d, want) {
			t.Errorf("the rendered page lacks %s", want)
		}
	}
	if n := strings.Count(d, `class="span fault"`); n != 2 {
		t.Errorf("%d fault bars rendered, want 2 (one per schedule entry)", n)
	}
}
