package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"sort"
	"strings"
	"time"

	"hasim/harness"
)

// timelineData is what the page's script draws: the bars, with a few lines
// of script rather than a div each in the file, so that the page stays
// small and can be read in any browser offline. The axis, the legend, the
// violation markers and the verdicts are in the HTML itself.
type timelineData struct {
	Title    string            `json:"title"`
	Duration float64           `json:"duration"` // seconds
	Spans    []timelineSpan    `json:"spans"`
	Verdicts []timelineVerdict `json:"verdicts"`
}

type timelineSpan struct {
	Lane  string  `json:"lane"`
	Class string  `json:"class"`
	Label string  `json:"label"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

type timelineVerdict struct {
	Check  string  `json:"check"`
	Status string  `json:"status"`
	Detail string  `json:"detail"`
	At     float64 `json:"at,omitempty"` // seconds; absent when unknown
}

// timelinePage is what the template renders around the script's bars.
type timelinePage struct {
	Title    string
	Duration string
	Ticks    []timelineTick
	Legend   []timelineLegend
	Marks    []timelineMark // violations with a moment, one row each, by time
	Unplaced []timelineMark // violations without one
	Rows     int            // rows of the violations strip
	Verdicts []timelinePageVerdict
	JSON     template.JS
}

type timelineTick struct {
	Left  string // percent of the run
	Label string
	Edge  string // "first" or "last": the label is kept inside the track
}

type timelineLegend struct {
	Class, Name, Meaning string
	Swatch               string // the sample's CSS classes
}

type timelineMark struct {
	Check, ID string
	Left      string // percent of the run
	Top       int    // px in the strip
	At        string
	Kind      string // "fails" or "excused" (advisory, or outside its envelope)
	Flip      bool   // the label runs left of the line, to stay on the page
	Title     string
	at        time.Duration
}

type timelinePageVerdict struct {
	ID, Status, Check, Short, Full string
	Kind                           string // as timelineMark's, "" when not violated
	At                             string // "" when unknown or not violated
	Note                           string
}

// markRow is the height of one row of the violations strip, in px.
const markRow = 22

// timelineCSS is the page's style; the name column's width is shared by
// every row so that the axis, the strip and the bars line up.
const timelineCSS = `
:root{--names:12rem}
body{font-family:sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}
.summary a{color:#c9302c;font-weight:bold}
#chart{position:relative;margin-top:1em}
.row{display:flex;align-items:stretch}
.row .name{width:var(--names);flex:none;font-size:90%;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;align-self:center}
.row .track{position:relative;flex:1}
.lane{height:26px;border-bottom:1px solid #eee;align-items:center}
.lane .track{height:20px;background:#fafafa}
.span{position:absolute;top:2px;height:16px;min-width:2px;border-radius:3px;opacity:.85;background:#999}
.fault,.sw-fault{background:#e8743b}.host,.sw-host{background:#f2b134}.leader,.sw-leader{background:#4a90d9}
.up,.sw-up{background:#6cc070}.down,.sw-down{background:#d9534f}
.sw-other{background:#999}
.axis{height:22px;border-bottom:1px solid #999}
.axis .name,.vrow .name{color:#555;font-size:80%}
.tick{position:absolute;bottom:0;height:6px;border-left:1px solid #999}
.tick span{position:absolute;bottom:7px;transform:translateX(-50%);font-size:75%;color:#444;white-space:nowrap}
.tick.first span{transform:none}.tick.last span{transform:translateX(-100%)}
.vrow{border-bottom:1px solid #eee}
.vmark{position:absolute;height:20px;width:0}
.vmark a{position:absolute;left:3px;top:2px;white-space:nowrap;font-size:80%;font-weight:bold;text-decoration:none;
  padding:1px 5px;border-radius:3px;color:#fff;background:#c9302c}
.vmark.flip a{left:auto;right:3px}
.vmark.excused a{background:#b86e00}
#overlay{position:absolute;top:0;bottom:0;left:var(--names);right:0;pointer-events:none}
.gridline{position:absolute;top:22px;bottom:0;border-left:1px solid rgba(0,0,0,.07)}
.vline{position:absolute;top:0;bottom:0;border-left:2px solid #c9302c;opacity:.8}
.vline.excused{border-left:2px dashed #b86e00}
.unplaced{font-size:85%;color:#555;margin:.3em 0 0 var(--names)}
#legend{margin:1em 0 0 var(--names);font-size:85%;display:flex;flex-wrap:wrap;gap:.4em 1.4em}
.legend-item{display:inline-flex;align-items:center;gap:.4em}
.swatch{display:inline-block;width:22px;height:12px;border-radius:3px;opacity:.85}
.swatch.vl{width:0;height:14px;border-left:2px solid #c9302c;border-radius:0;opacity:1}
.swatch.vl.excused{border-left:2px dashed #b86e00}
.hint{font-size:80%;color:#777;margin-left:var(--names)}
#verdicts details{border-left:4px solid transparent;padding:2px 6px;margin:2px 0}
#verdicts summary{font-family:monospace;cursor:pointer}
#verdicts .violated.fails{border-left-color:#c9302c;background:#fdf0ef}
#verdicts .violated.excused{border-left-color:#b86e00;background:#fdf6ea}
#verdicts .violated summary{font-weight:bold}
#verdicts .at{color:#c9302c}
#verdicts pre{white-space:pre-wrap;font-size:85%;font-weight:normal}
`

var timelineTmpl = template.Must(template.New("timeline").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>` + timelineCSS + `</style></head><body>
<h1>{{.Title}}</h1>
<p class="summary">{{.Duration}} of simulated time.{{range .Marks}} <a href="#{{.ID}}">{{.Check}} violated at {{.At}}</a>.{{end}}{{range .Unplaced}} <a href="#{{.ID}}">{{.Check}} violated</a>.{{end}}</p>
<div id="chart">
<div class="row axis" id="axis"><div class="name">simulated time</div><div class="track">
{{- range .Ticks}}<div class="tick{{with .Edge}} {{.}}{{end}}" style="left:{{.Left}}%"><span>{{.Label}}</span></div>{{end -}}
</div></div>
{{- if .Marks}}
<div class="row vrow" id="violations"><div class="name">violations</div><div class="track" style="height:{{.Rows}}px">
{{- range .Marks}}<div class="vmark {{.Kind}}{{if .Flip}} flip{{end}}" data-check="{{.Check}}" style="left:{{.Left}}%;top:{{.Top}}px"><a href="#{{.ID}}" title="{{.Title}}">⚑ {{.Check}} · {{.At}}</a></div>{{end -}}
</div></div>
{{- end}}
<div id="lanes"></div>
<div id="overlay">
{{- range .Ticks}}<div class="gridline" style="left:{{.Left}}%"></div>{{end}}
{{- range .Marks}}<div class="vline {{.Kind}}" data-check="{{.Check}}" style="left:{{.Left}}%"></div>{{end -}}
</div>
</div>
{{- with .Unplaced}}
<p class="unplaced">Violated with no moment to mark:{{range .}} <a href="#{{.ID}}">{{.Check}}</a>{{end}} (see its verdict below).</p>
{{- end}}
<div id="legend">
{{- range .Legend}}<span class="legend-item" data-class="{{.Class}}"><span class="swatch {{.Swatch}}"></span><b>{{.Name}}</b> {{.Meaning}}</span>{{end -}}
</div>
<p class="hint">Hover a bar for its details; a violation's flag leads to its verdict.</p>
<h2>Checks</h2>
<div id="verdicts">{{range .Verdicts}}<details id="{{.ID}}" class="{{.Status}}{{with .Kind}} {{.}}{{end}}"{{if .Kind}} open{{end}}><summary>{{.Short}}{{with .At}} <span class="at">(first seen at {{.}})</span>{{end}}{{with .Note}} [{{.}}]{{end}}</summary><pre>{{.Full}}</pre></details>{{end}}</div>
<script id="data" type="application/json">{{.JSON}}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById("data").textContent);
  var lanes = document.getElementById("lanes"), rows = {}, order = [];
  var pct = function (t) { return d.duration > 0 ? 100 * t / d.duration : 0; };
  (d.spans || []).forEach(function (s) {
    if (!rows[s.lane]) {
      var row = document.createElement("div");
      row.className = "row lane";
      row.setAttribute("data-lane", s.lane);
      var name = document.createElement("div");
      name.className = "name";
      name.textContent = s.lane;
      name.title = s.lane;
      var track = document.createElement("div");
      track.className = "track";
      row.appendChild(name);
      row.appendChild(track);
      rows[s.lane] = track;
      order.push(row);
    }
    var el = document.createElement("div");
    el.className = "span " + s["class"];
    el.style.left = pct(s.start) + "%";
    el.style.width = pct(Math.max(s.end - s.start, 0)) + "%";
    el.title = s.label + " [" + s.start.toFixed(3) + "s, " + s.end.toFixed(3) + "s]";
    rows[s.lane].appendChild(el);
  });
  order.forEach(function (r) { lanes.appendChild(r); });
})();
</script></body></html>
`))

// writeTimeline writes the timeline page of a finished run.
func writeTimeline(path, title string, res harness.Result, spans []harness.Span) error {
	b, err := timelineHTML(title, res.SimTime, spans, res.Verdicts)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// timelineHTML renders the timeline page of a run that lasted end.
func timelineHTML(title string, end time.Duration, spans []harness.Span, verdicts []harness.Verdict) ([]byte, error) {
	d := timelineData{Title: title, Duration: end.Seconds()}
	for _, s := range spans {
		d.Spans = append(d.Spans, timelineSpan{Lane: s.Lane, Class: s.Class, Label: s.Label, Start: s.Start.Seconds(), End: s.End.Seconds()})
	}
	p := timelinePage{Title: title, Duration: end.String(), Legend: timelineLegendOf(spans)}

	step, ticks := harness.AxisTicks(end)
	for i, t := range ticks {
		tk := timelineTick{Left: timelinePct(t, end), Label: harness.TickLabel(t, step)}
		switch {
		case i == 0:
			tk.Edge = "first"
		case i == len(ticks)-1 && end-t < step/2:
			// Too close to the right edge for a centred label.
			tk.Edge = "last"
		}
		p.Ticks = append(p.Ticks, tk)
	}

	ids := map[string]bool{}
	kinds := map[string]bool{}
	for _, v := range verdicts {
		full := string(v.Status) + "  " + string(v.Check) + ": " + v.Detail
		pv := timelinePageVerdict{ID: timelineID(string(v.Check), ids), Status: string(v.Status), Check: string(v.Check), Short: full, Full: full}
		if len(pv.Short) > 160 {
			pv.Short = pv.Short[:160] + "…"
		}
		tv := timelineVerdict{Check: string(v.Check), Status: string(v.Status), Detail: v.Detail}
		if v.Status == harness.Violated {
			pv.Kind = "fails"
			switch {
			case v.Advisory:
				pv.Kind, pv.Note = "excused", "advisory: does not fail the run"
			case v.Outside != "":
				pv.Kind, pv.Note = "excused", "outside its envelope: "+v.Outside
			}
			m := timelineMark{Check: string(v.Check), ID: pv.ID, Kind: pv.Kind, Title: pv.Short, at: v.At}
			if v.At > 0 {
				tv.At = v.At.Seconds()
				pv.At = v.At.String()
				m.At, m.Left = timelineMoment(v.At), timelinePct(v.At, end)
				// Past two thirds of the way the flag would run off the
				// page: it hangs to the left of its line instead.
				m.Flip = end > 0 && v.At > end*2/3
				p.Marks = append(p.Marks, m)
				kinds[m.Kind] = true
			} else {
				p.Unplaced = append(p.Unplaced, m)
			}
		}
		d.Verdicts = append(d.Verdicts, tv)
		p.Verdicts = append(p.Verdicts, pv)
	}
	// One row each, earliest on top, so that no two flags overlap however
	// close their moments.
	sort.SliceStable(p.Marks, func(i, j int) bool { return p.Marks[i].at < p.Marks[j].at })
	for i := range p.Marks {
		p.Marks[i].Top = i * markRow
	}
	p.Rows = len(p.Marks) * markRow
	if kinds["fails"] {
		p.Legend = append(p.Legend, timelineLegend{"violation", "violation", "where a check was first seen violated (the flag names it)", "vl"})
	}
	if kinds["excused"] {
		p.Legend = append(p.Legend, timelineLegend{"excused-violation", "excused violation", "of an advisory check, or outside its envelope: does not fail the run", "vl excused"})
	}

	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	p.JSON = template.JS(b)
	var out bytes.Buffer
	if err := timelineTmpl.Execute(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// timelineLegendOf lists the classes the spans use: the known ones in
// harness.SpanClasses's order, then any other by name.
func timelineLegendOf(spans []harness.Span) []timelineLegend {
	used := map[string]bool{}
	for _, s := range spans {
		used[s.Class] = true
	}
	var out []timelineLegend
	for _, c := range harness.SpanClasses {
		if used[c.Class] {
			out = append(out, timelineLegend{c.Class, c.Class, c.Meaning, "sw-" + c.Class})
			delete(used, c.Class)
		}
	}
	for _, c := range harness.SortedKeys(used) {
		// Unknown to the legend (add it to harness.SpanClasses): drawn grey.
		out = append(out, timelineLegend{c, c, "(no description)", "sw-other"})
	}
	return out
}

// timelinePct places t on a run that lasted end, in percent of the track.
func timelinePct(t, end time.Duration) string {
	if end <= 0 {
		return "0"
	}
	x := 100 * float64(t) / float64(end)
	return fmt.Sprintf("%.3f", min(max(x, 0), 100))
}

// timelineMoment writes a moment for a flag: to the millisecond (the
// verdict below has it in full, as the checks' details do).
func timelineMoment(t time.Duration) string {
	if t >= time.Second {
		return t.Round(time.Millisecond).String()
	}
	return t.Round(time.Microsecond).String()
}

// timelineID makes an element id of a check name, unique on the page.
func timelineID(check string, used map[string]bool) string {
	var b strings.Builder
	b.WriteString("check-")
	for _, r := range strings.ToLower(check) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	id := b.String()
	for n := 2; used[id]; n++ {
		id = fmt.Sprintf("%s-%d", b.String(), n)
	}
	used[id] = true
	return id
}

// spansOf returns a run's timeline: the scenario's own if it draws one,
// otherwise its faults.
func spansOf(sc any, s *harness.Sim) []harness.Span {
	if t, ok := sc.(interface {
		Timeline(*harness.Sim) []harness.Span
	}); ok {
		return t.Timeline(s)
	}
	return harness.FaultSpans(s)
}
