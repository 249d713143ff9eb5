package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
)

// report is the merged view of one or more soak directories (shards of one
// soak, or soaks run on many machines).
type report struct {
	Dirs        []string            `json:"dirs"`
	Spec        json.RawMessage     `json:"spec"`
	SimDuration string              `json:"sim_duration"`
	Seeds       int                 `json:"seeds"`
	Passed      int                 `json:"passed"`
	SimHours    float64             `json:"sim_hours"`
	WallSeconds float64             `json:"wall_seconds"`
	SpeedUp     float64             `json:"speed_up"`
	Verified    int                 `json:"determinism_verified"`
	Failures    int                 `json:"failures"`
	ByClass     map[string][]uint64 `json:"by_class"`
	ByCheck     map[string][]uint64 `json:"by_check"`
	Signatures  []signature         `json:"signatures"`
	// Outside lists, by check, the seeds whose violations came outside
	// the envelope the check is claimed in: expected, not failures.
	Outside map[string][]uint64 `json:"outside_envelope,omitempty"`
	// Advisory lists, by check, the seeds that violated a check that is
	// reported but not required.
	Advisory  map[string][]uint64 `json:"advisory,omitempty"`
	Marks     map[string]int      `json:"marks"`
	MarkSeeds map[string]int      `json:"mark_seeds"`
	// MarkRates is the share of seeds that reached each mark, in percent.
	MarkRates  map[string]float64 `json:"mark_rates"`
	Duplicates []uint64           `json:"duplicate_seeds,omitempty"`
}

// signature groups failures that look alike: same class, same checks
// violated, same shape of first evidence (numbers and quoted values blanked).
type signature struct {
	Signature string   `json:"signature"`
	Seeds     []uint64 `json:"seeds"`
	Example   string   `json:"example_failure_file"`
}

var (
	quotedRE  = regexp.MustCompile(`"[^"]*"`)
	groupRE   = regexp.MustCompile(`\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}`)
	digitsRE  = regexp.MustCompile(`[^\s,]*[0-9][^\s,]*`)
	nOfNRE    = regexp.MustCompile(`N( of N)?( N)*`)
	countRE   = regexp.MustCompile(`^N (.*\w)s$`)
	spacesRE  = regexp.MustCompile(`\s+`)
	headingRE = regexp.MustCompile(`: |;`)
)

// headline reduces a verdict's detail to the shape of its first evidence,
// so that one bug is one row: the text before the first ": " or ";", with
// lists in brackets, quoted values, and every word holding a digit
// (counters, times, keys such as k3, hosts, identities) left out, and the
// noun of a headline that is a count in the singular.
func headline(d string) string {
	if i := strings.IndexByte(d, '\n'); i >= 0 {
		d = d[:i]
	}
	if loc := headingRE.FindStringIndex(d); loc != nil && loc[0] > 0 {
		d = d[:loc[0]]
	}
	d = quotedRE.ReplaceAllString(d, "…")
	for prev := ""; prev != d; {
		prev, d = d, groupRE.ReplaceAllString(d, "")
	}
	d = digitsRE.ReplaceAllString(d, "N")
	d = nOfNRE.ReplaceAllString(d, "N")
	d = strings.TrimSpace(spacesRE.ReplaceAllString(d, " "))
	// A count's noun in the singular: "1 surplus creation" and "2 surplus
	// creations" are one row.
	return countRE.ReplaceAllString(d, "N $1")
}

// signatureOf groups failures that look alike: the class, and for each
// check that failed the run its headline.
func signatureOf(r scenarios.SoakResult) string {
	var parts []string
	for _, k := range harness.SortedKeys(r.Checks) {
		if v := r.Checks[k]; v.Fails() {
			parts = append(parts, k+": "+headline(v.Detail))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, headline(r.Detail))
	}
	return r.Class + " | " + strings.Join(parts, " | ")
}

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the merged report as JSON")
	htmlPath := fs.String("html", "", "also write the report as an HTML page here")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: hasim report [--json] [--html FILE] SOAK_DIR...\n\nMerges soak directories (shards, machines) into one summary.\n\n")
		fs.PrintDefaults()
	}
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("give at least one soak directory")
	}
	rep, err := mergeReports(dirs)
	if err != nil {
		return err
	}
	if *htmlPath != "" {
		if err := writeReportHTML(*htmlPath, rep); err != nil {
			return usagef("--html: %v", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep, *htmlPath)
	}
	if rep.Failures > 0 {
		return errViolated
	}
	return nil
}

func mergeReports(dirs []string) (*report, error) {
	rep := &report{Dirs: dirs, ByClass: map[string][]uint64{}, ByCheck: map[string][]uint64{},
		Outside: map[string][]uint64{}, Advisory: map[string][]uint64{},
		Marks: map[string]int{}, MarkSeeds: map[string]int{}, MarkRates: map[string]float64{}}
	var specKey string
	seen := map[uint64]bool{}
	sigs := map[string]*signature{}
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "soak.json"))
		if err != nil {
			return nil, usagef("%s: not a soak directory: %v", dir, err)
		}
		var cfg scenarios.SoakConfig
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, usagef("%s/soak.json: %v", dir, err)
		}
		spec, _ := json.Marshal(cfg.Template)
		if cfg.Exec != nil {
			spec, _ = json.Marshal(map[string]any{"exec": cfg.Exec})
		}
		key := string(spec) + "|" + cfg.SimDuration
		if specKey == "" {
			specKey, rep.Spec, rep.SimDuration = key, spec, cfg.SimDuration
			if cfg.SimDuration == "" {
				rep.SimDuration = "the test's own simulated time" // an exec soak without --sim-duration
			}
		} else if key != specKey {
			return nil, usagef("%s: a soak of another configuration than %s; report merges shards of one soak", dir, dirs[0])
		}
		results, err := readResults(filepath.Join(dir, "results.jsonl"))
		if err != nil {
			return nil, usagef("%v", err)
		}
		results = latestResults(results)
		for _, r := range results {
			if seen[r.Seed] {
				rep.Duplicates = append(rep.Duplicates, r.Seed)
				continue
			}
			seen[r.Seed] = true
			rep.Seeds++
			rep.SimHours += r.SimSeconds / 3600
			rep.WallSeconds += r.WallSeconds
			if r.Verified {
				rep.Verified++
			}
			for k, n := range r.Marks {
				rep.Marks[k] += n
				rep.MarkSeeds[k]++
			}
			for k, v := range r.Checks {
				switch {
				case v.Verdict != harness.Violated:
				case v.Advisory:
					rep.Advisory[k] = append(rep.Advisory[k], r.Seed)
				case v.Outside != "":
					rep.Outside[k] = append(rep.Outside[k], r.Seed)
				}
			}
			if !failing(r.Class) {
				rep.Passed++
				continue
			}
			rep.Failures++
			rep.ByClass[r.Class] = append(rep.ByClass[r.Class], r.Seed)
			for k, v := range r.Checks {
				if v.Fails() {
					rep.ByCheck[k] = append(rep.ByCheck[k], r.Seed)
				}
			}
			sig := signatureOf(r)
			s := sigs[sig]
			if s == nil {
				s = &signature{Signature: sig}
				sigs[sig] = s
			}
			// The example is the failure of the lowest seed, whatever
			// order the results were written in (the shrunk failure when
			// shrinking made one).
			if len(s.Seeds) == 0 || r.Seed < slices.Min(s.Seeds) {
				file := r.Failure
				if shrunk := strings.TrimSuffix(file, ".json") + "-shrunk.json"; file != "" {
					if _, err := os.Stat(filepath.Join(dir, shrunk)); err == nil {
						file = shrunk
					}
				}
				s.Example = filepath.Join(dir, file)
			}
			s.Seeds = append(s.Seeds, r.Seed)
		}
	}
	if rep.WallSeconds > 0 {
		rep.SpeedUp = rep.SimHours * 3600 / rep.WallSeconds
	}
	sortSeeds := func(m map[string][]uint64) {
		for _, k := range harness.SortedKeys(m) {
			sort.Slice(m[k], func(i, j int) bool { return m[k][i] < m[k][j] })
		}
	}
	sortSeeds(rep.ByClass)
	sortSeeds(rep.ByCheck)
	sortSeeds(rep.Outside)
	sortSeeds(rep.Advisory)
	for k, n := range rep.MarkSeeds {
		rep.MarkRates[k] = 100 * float64(n) / float64(max(rep.Seeds, 1))
	}
	for _, k := range harness.SortedKeys(sigs) {
		s := sigs[k]
		sort.Slice(s.Seeds, func(i, j int) bool { return s.Seeds[i] < s.Seeds[j] })
		rep.Signatures = append(rep.Signatures, *s)
	}
	sort.SliceStable(rep.Signatures, func(i, j int) bool { return len(rep.Signatures[i].Seeds) > len(rep.Signatures[j].Seeds) })
	return rep, nil
}

func printReport(w io.Writer, r *report, htmlPath string) {
	fmt.Fprintf(w, "hasim report: %d seeds from %d directories, %.2f simulated hours at %.0fx real time, %d re-run for determinism\n",
		r.Seeds, len(r.Dirs), r.SimHours, r.SpeedUp, r.Verified)
	fmt.Fprintf(w, "config: %s, %s per seed\n", r.Spec, r.SimDuration)
	fmt.Fprintf(w, "%d passed, %d failed\n", r.Passed, r.Failures)
	for _, k := range harness.SortedKeys(r.ByClass) {
		fmt.Fprintf(w, "  class %-11s %4d seeds: %s\n", k, len(r.ByClass[k]), seedList(r.ByClass[k]))
	}
	for _, k := range harness.SortedKeys(r.ByCheck) {
		fmt.Fprintf(w, "  check %-20s %4d seeds: %s\n", k, len(r.ByCheck[k]), seedList(r.ByCheck[k]))
	}
	if len(r.Outside) > 0 {
		fmt.Fprintln(w, "violated outside the envelope, by design (not failures: the run left the bounds the check is claimed in):")
		for _, k := range harness.SortedKeys(r.Outside) {
			fmt.Fprintf(w, "  check %-20s %4d seeds: %s\n", k, len(r.Outside[k]), seedList(r.Outside[k]))
		}
	}
	if len(r.Advisory) > 0 {
		fmt.Fprintln(w, "advisory checks violated (reported, not required):")
		for _, k := range harness.SortedKeys(r.Advisory) {
			fmt.Fprintf(w, "  check %-20s %4d seeds: %s\n", k, len(r.Advisory[k]), seedList(r.Advisory[k]))
		}
	}
	if len(r.Signatures) > 0 {
		fmt.Fprintln(w, "signatures:")
		for _, s := range r.Signatures {
			fmt.Fprintf(w, "  %4d × %s\n         e.g. go run ./cmd/hasim repro %s\n", len(s.Seeds), s.Signature, s.Example)
		}
	}
	if len(r.Marks) > 0 {
		fmt.Fprintln(w, "coverage marks (hits, seeds that reached it, share of seeds):")
		for _, k := range harness.SortedKeys(r.Marks) {
			fmt.Fprintf(w, "  %-36s %8d %6d %6.1f%%\n", k, r.Marks[k], r.MarkSeeds[k], r.MarkRates[k])
		}
	}
	if len(r.Duplicates) > 0 {
		fmt.Fprintf(w, "warning: %d seeds appear in more than one directory (counted once): %s\n", len(r.Duplicates), seedList(r.Duplicates))
	}
	if htmlPath != "" {
		fmt.Fprintf(w, "html: %s\n", htmlPath)
	}
}

func seedList(s []uint64) string {
	var parts []string
	for i, v := range s {
		if i == 12 {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(s)-12))
			break
		}
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, " ")
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{"seeds": seedList, "sorted": harness.SortedKeys[string, int],
	"sortedSeeds": harness.SortedKeys[string, []uint64]}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>hasim soak report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.bad{color:#a00}.ok{color:#070}code{font-size:90%}</style></head><body>
<h1>hasim soak report</h1>
<p>{{.Seeds}} seeds from {{len .Dirs}} directories; {{printf "%.2f" .SimHours}} simulated hours at {{printf "%.0f" .SpeedUp}}× real time; {{.Verified}} re-run for determinism.</p>
<p>Configuration: <code>{{printf "%s" .Spec}}</code>, {{.SimDuration}} per seed.</p>
<p class="{{if .Failures}}bad{{else}}ok{{end}}">{{.Passed}} passed, {{.Failures}} failed.</p>
{{if .ByClass}}<h2>Failures by class</h2><table id="by-class"><tr><th>class</th><th>seeds</th></tr>
{{$r := .}}{{range $k := sortedSeeds .ByClass}}<tr><td>{{$k}}</td><td>{{len (index $r.ByClass $k)}}: {{seeds (index $r.ByClass $k)}}</td></tr>{{end}}</table>{{end}}
{{if .ByCheck}}<h2>Failures by check</h2><table id="by-check"><tr><th>check</th><th>seeds</th></tr>
{{$r := .}}{{range $k := sortedSeeds .ByCheck}}<tr><td>{{$k}}</td><td>{{len (index $r.ByCheck $k)}}: {{seeds (index $r.ByCheck $k)}}</td></tr>{{end}}</table>{{end}}
{{if .Outside}}<h2>Violated outside the envelope, by design</h2><p>Not failures: these runs left the bounds the check is claimed in.</p><table id="outside"><tr><th>check</th><th>seeds</th></tr>
{{$r := .}}{{range $k := sortedSeeds .Outside}}<tr><td>{{$k}}</td><td>{{len (index $r.Outside $k)}}: {{seeds (index $r.Outside $k)}}</td></tr>{{end}}</table>{{end}}
{{if .Advisory}}<h2>Advisory checks violated</h2><table id="advisory"><tr><th>check</th><th>seeds</th></tr>
{{$r := .}}{{range $k := sortedSeeds .Advisory}}<tr><td>{{$k}}</td><td>{{len (index $r.Advisory $k)}}: {{seeds (index $r.Advisory $k)}}</td></tr>{{end}}</table>{{end}}
{{if .Signatures}}<h2>Failures by signature</h2><table id="signatures"><tr><th>seeds</th><th>signature</th><th>replay one</th></tr>
{{range .Signatures}}<tr><td>{{len .Seeds}}: {{seeds .Seeds}}</td><td>{{.Signature}}</td><td><code>go run ./cmd/hasim repro {{.Example}}</code></td></tr>{{end}}</table>{{end}}
{{if .Marks}}<h2>Coverage marks</h2><table id="marks"><tr><th>mark</th><th>hits</th><th>seeds</th><th>share of seeds</th></tr>
{{$r := .}}{{range $k := sorted .Marks}}<tr><td>{{$k}}</td><td>{{index $r.Marks $k}}</td><td>{{index $r.MarkSeeds $k}}</td><td>{{printf "%.1f%%" (index $r.MarkRates $k)}}</td></tr>{{end}}</table>{{end}}
</body></html>
`))

func writeReportHTML(path string, r *report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := reportTmpl.Execute(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
