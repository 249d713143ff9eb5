package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hasim/harness"
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
// served HTML itself has none), under a time axis, with a legend and a
// flag where the violated check was first seen. It takes a screenshot of
// each page, copied to $HASIM_SCREENSHOTS when set.
func TestTimelineRendersInABrowser(t *testing.T) {
	browser := chromium(t)
	cases := []struct {
		name, scenario, bug, sched, failure string
		seed, bars                          int
		lanes                               []string
		ticks                               string   // the axis's labels
		legend                              []string // its entries' classes
		violated                            string   // the check marked
	}{
		{"store", "store", "store-stale-read", "at 10s isolate @raft-leader for 5s\nat 20s crash m2 for 3s\n", "failure-store-2.json", 2, 2,
			[]string{`data-lane="faults"`, `class="span fault"`, `data-lane="raft leader"`,
				`class="span leader"`, `data-lane="host m2"`, `data-lane="availability"`},
			"0s 30s 1m 1m30s 2m 2m30s 3m", []string{"fault", "host", "leader", "up", "violation"}, "acked-durable"},
		{"cluster", "cluster", "lb-no-health-check", "at 60s crash m1\nat 90s kill @active-scheduler for 20s\n", "failure-cluster-1.json", 1, 2,
			[]string{`data-lane="faults"`, `class="span fault"`, `data-lane="raft leader"`, `data-lane="active kube-controller-manager"`,
				`data-lane="active kube-scheduler"`, `class="span leader"`, `data-lane="LB backends"`, `data-lane="API through the LB"`,
				`class="span down"`, `data-lane="host m1"`},
			"0s 30s 1m 1m30s 2m 2m30s 3m", []string{"fault", "host", "leader", "up", "down", "violation"}, "api-available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			page := reproTimeline(t, dir, c.scenario, c.bug, c.sched, "3m", c.failure, c.seed)
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
			if got := strings.Join(domTicks(d), " "); got != c.ticks {
				t.Errorf("axis ticks %q, want %q", got, c.ticks)
			}
			for _, class := range c.legend {
				if !strings.Contains(d, `class="legend-item" data-class="`+class+`"`) {
					t.Errorf("the legend lacks an entry for %s", class)
				}
			}
			flag := regexp.MustCompile(`<div class="vmark fails[^"]*" data-check="` + regexp.QuoteMeta(c.violated) +
				`" style="left:([0-9.]+)%[^"]*"><a href="#([^"]+)"[^>]*>⚑ ` + regexp.QuoteMeta(c.violated) + ` · `).FindStringSubmatch(d)
			if flag == nil {
				t.Fatalf("no violation flag for %s in the rendered page", c.violated)
			}
			if left, _ := strconv.ParseFloat(flag[1], 64); left <= 0 || left >= 100 {
				t.Errorf("the flag of %s stands at %s%%, off the run", c.violated, flag[1])
			}
			if !strings.Contains(d, `<div class="vline fails" data-check="`+c.violated+`" style="left:`+flag[1]+`%"`) {
				t.Errorf("no violation line under the flag of %s", c.violated)
			}
			if !regexp.MustCompile(`<details id="` + flag[2] + `" class="violated fails" open="">`).MatchString(d) {
				t.Errorf("the flag of %s does not lead to its verdict, highlighted", c.violated)
			}

			shot := filepath.Join(dir, c.name+".png")
			cmd = exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1400,1000", "--hide-scrollbars",
				"--screenshot="+shot, "file://"+page)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("chromium screenshot: %v\n%s", err, out)
			}
			png, err := os.ReadFile(shot)
			if err != nil {
				t.Fatal(err)
			}
			if len(png) < 1000 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("screenshot %s: %d bytes, not a picture of the page", shot, len(png))
			}
			t.Logf("screenshot: %s", shot)
			if keep := os.Getenv("HASIM_SCREENSHOTS"); keep != "" {
				// The test's directory goes when it ends: a person who
				// wants to look at the page asks for a copy.
				if err := os.WriteFile(filepath.Join(keep, c.name+".png"), png, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// reproTimeline runs a scenario with a bug and a schedule into dir, which
// must fail, replays the failure file and returns the replay's timeline.
func reproTimeline(t *testing.T, dir, scenario, bug, schedule, duration, failure string, seed int) string {
	t.Helper()
	sched := filepath.Join(dir, "s.txt")
	if err := os.WriteFile(sched, []byte(schedule), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if code, _, errs := hasim(t, "run", "--scenario", scenario, "--seed", strconv.Itoa(seed), "--duration", duration,
		"--bug", bug, "--schedule", sched, "--out", run); code != 1 {
		t.Fatalf("run: exit %d %s", code, errs)
	}
	out := filepath.Join(dir, "repro")
	code, stdout, errs := hasim(t, "repro", "--out", out, filepath.Join(run, failure))
	if code != 1 || !strings.Contains(stdout, "timeline: ") {
		t.Fatalf("repro: exit %d\n%s%s", code, stdout, errs)
	}
	return filepath.Join(out, "timeline.html")
}

// Every scenario's failure page, as served, has its axis and legend, and
// a flag at the moment its scenario's checker recorded for the violation
// (the counter's check, judged on the final counts, records none).
func TestTimelineOfEachScenario(t *testing.T) {
	cases := []struct {
		scenario, bug, sched, duration, failure string
		seed                                    int
		flag                                    string // `data-check="…" style="left:…%`, "" for none
		unplaced                                string
	}{
		{"store", "store-stale-read", "at 10s isolate @raft-leader for 5s\nat 20s crash m2 for 3s\n", "3m", "failure-store-2.json", 2,
			// 4.007814856s of 3m: the first client to see its revision go back.
			`data-check="acked-durable" style="left:2.227%`, "linearizability"},
		{"election", "le-no-renew-deadline", "at 30s partition {@active-cm} | {m1 m2 m3} for 40s\n", "2m", "failure-election-2.json", 2,
			// The overlap began at 46.637543632s of 2m.
			`data-check="single-active" style="left:38.865%`, ""},
		{"counter", "counter-lazy-fsync", "at 11.9s crash n1 for 3s\nat 21.9s crash n2 for 3s\n", "40s", "failure-counter-1.json", 1,
			"", "acked-durable"},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			raw, err := os.ReadFile(reproTimeline(t, t.TempDir(), c.scenario, c.bug, c.sched, c.duration, c.failure, c.seed))
			if err != nil {
				t.Fatal(err)
			}
			page := string(raw)
			if len(domTicks(page)) < 5 || !strings.Contains(page, `class="legend-item" data-class="fault"`) {
				t.Errorf("the page lacks its axis or legend")
			}
			if c.flag != "" && !strings.Contains(page, `<div class="vmark fails" `+c.flag) {
				t.Errorf("no flag %s", c.flag)
			}
			if c.flag == "" && strings.Contains(page, `class="vmark`) {
				t.Errorf("a flag where none was expected")
			}
			if c.unplaced != "" && !regexp.MustCompile(`Violated with no moment to mark:.*>`+c.unplaced+`</a>`).MatchString(page) {
				t.Errorf("%s is not listed as violated with no moment", c.unplaced)
			}
		})
	}
}

// domTicks returns the axis's tick labels in a page.
func domTicks(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<div class="tick[^"]*" style="left:[0-9.]+%"><span>([^<]*)</span>`).FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// The page of a run draws the axis, a legend of the classes its bars use,
// and a flag and a line where each violated check was first seen.
func TestTimelineMarksViolations(t *testing.T) {
	spans := []harness.Span{
		{Lane: "faults", Class: "fault", Label: "crash m1", Start: 10 * time.Second, End: 20 * time.Second},
		{Lane: "raft leader", Class: "leader", Label: "m2", Start: 0, End: 100 * time.Second},
		{Lane: "availability", Class: "down", Label: "writes fail", Start: 10 * time.Second, End: 12 * time.Second},
		{Lane: "odd", Class: "sparkle", Label: "a class no legend knows", Start: 0, End: time.Second},
	}
	verdicts := []harness.Verdict{
		{Check: "raft-safety", Status: harness.OK, Detail: "fine"},
		{Check: "late-writes", Status: harness.Violated, Detail: "a late write", Advisory: true, At: 80 * time.Second},
		{Check: "acked-durable", Status: harness.Violated, Detail: "lost a write", At: 25 * time.Second},
		{Check: "linearizability", Status: harness.Violated, Detail: "not linearizable"},
		{Check: "live", Status: harness.Unknown, Detail: "run too short"},
	}
	b, err := timelineHTML("t", 100*time.Second, spans, verdicts)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if got, want := strings.Join(domTicks(page), " "), "0s 10s 20s 30s 40s 50s 1m 1m10s 1m20s 1m30s 1m40s"; got != want {
		t.Errorf("axis ticks %q, want %q", got, want)
	}
	for _, want := range []string{
		`<div class="tick first" style="left:0.000%"><span>0s</span>`,
		`<div class="tick" style="left:50.000%"><span>50s</span>`,
		`<div class="tick last" style="left:100.000%"><span>1m40s</span>`,
		// Legend: the classes drawn, the unknown one too, and both kinds of violation.
		`class="legend-item" data-class="fault"`, `class="legend-item" data-class="leader"`,
		`class="legend-item" data-class="down"`, `class="legend-item" data-class="sparkle"><span class="swatch sw-other">`,
		`class="legend-item" data-class="violation"`, `class="legend-item" data-class="excused-violation"`,
		// Flags, earliest on top; the late one hangs left of its line.
		`<div class="vmark fails" data-check="acked-durable" style="left:25.000%;top:0px"><a href="#check-acked-durable" title="violated  acked-durable: lost a write">⚑ acked-durable · 25s</a>`,
		`<div class="vmark excused flip" data-check="late-writes" style="left:80.000%;top:22px"><a href="#check-late-writes"`,
		`<div class="vline fails" data-check="acked-durable" style="left:25.000%">`,
		`<div class="vline excused" data-check="late-writes" style="left:80.000%">`,
		`Violated with no moment to mark: <a href="#check-linearizability">linearizability</a>`,
		// Verdicts: the violated ones open and highlighted, with their moment.
		`<details id="check-acked-durable" class="violated fails" open><summary>violated  acked-durable: lost a write <span class="at">(first seen at 25s)</span>`,
		`<details id="check-late-writes" class="violated excused" open><summary>violated  late-writes: a late write <span class="at">(first seen at 1m20s)</span> [advisory: does not fail the run]`,
		`<details id="check-linearizability" class="violated fails" open><summary>violated  linearizability: not linearizable</summary>`,
		`<details id="check-raft-safety" class="ok"><summary>ok  raft-safety: fine</summary>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, `data-class="host"`) || strings.Contains(page, `data-class="up"`) {
		t.Error("the legend explains classes no bar uses")
	}
	if n := strings.Count(page, `class="vmark`); n != 2 {
		t.Errorf("%d flags, want 2: a violation without a moment gets none", n)
	}
}

// A run with no violation has no strip of flags and no violation legend.
func TestTimelineWithoutViolations(t *testing.T) {
	b, err := timelineHTML("t", time.Minute, []harness.Span{{Lane: "faults", Class: "fault", Start: time.Second, End: 2 * time.Second}},
		[]harness.Verdict{{Check: "raft-safety", Status: harness.OK, Detail: "fine"}})
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, bad := range []string{`id="violations"`, `class="vmark`, `class="vline`, `data-class="violation"`, "no moment to mark"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %s", bad)
		}
	}
	if !strings.Contains(page, `id="axis"`) || !strings.Contains(page, `class="legend-item" data-class="fault"`) {
		t.Error("the page lacks its axis or legend")
	}
}
