package main

import (
	"encoding/json"
	"html/template"
	"os"

	"hasim/harness"
)

// timelineData is what the timeline page draws; the page renders it with
// a few lines of script, so that it can be read in any browser offline.
type timelineData struct {
	Title    string         `json:"title"`
	Duration float64        `json:"duration"` // seconds
	Spans    []timelineSpan `json:"spans"`
	Verdicts []string       `json:"verdicts"`
}

type timelineSpan struct {
	Lane  string  `json:"lane"`
	Class string  `json:"class"`
	Label string  `json:"label"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

var timelineTmpl = template.Must(template.New("timeline").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;margin:1.5em}
#lanes{position:relative;margin-top:1em}
.lane{display:flex;align-items:center;height:26px;border-bottom:1px solid #eee}
.lane .name{width:11em;flex:none;font-size:90%}
.lane .track{position:relative;flex:1;height:20px;background:#fafafa}
.span{position:absolute;top:2px;height:16px;min-width:2px;border-radius:3px;opacity:.85}
.fault{background:#e8743b}.host{background:#f2b134}.leader{background:#4a90d9}
.up{background:#6cc070}.down{background:#d9534f}
#axis{margin-left:11em;font-size:80%;color:#555}
#verdicts summary{font-family:monospace;cursor:pointer}
#verdicts pre{white-space:pre-wrap;font-size:85%}
</style></head><body>
<h1>{{.Title}}</h1>
<div id="axis"></div>
<div id="lanes"></div>
<h2>Checks</h2>
<div id="verdicts">{{range .Verdicts}}<details><summary>{{.Short}}</summary><pre>{{.Full}}</pre></details>{{end}}</div>
<script id="data" type="application/json">{{.JSON}}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById("data").textContent);
  var lanes = document.getElementById("lanes"), rows = {}, order = [];
  d.spans.forEach(function (s) {
    if (!rows[s.lane]) {
      var row = document.createElement("div");
      row.className = "lane";
      row.setAttribute("data-lane", s.lane);
      var name = document.createElement("div");
      name.className = "name";
      name.textContent = s.lane;
      var track = document.createElement("div");
      track.className = "track";
      row.appendChild(name);
      row.appendChild(track);
      rows[s.lane] = track;
      order.push(row);
    }
    var el = document.createElement("div");
    el.className = "span " + s["class"];
    el.style.left = (100 * s.start / d.duration) + "%";
    el.style.width = (100 * Math.max(s.end - s.start, 0) / d.duration) + "%";
    el.title = s.label + " [" + s.start.toFixed(3) + "s, " + s.end.toFixed(3) + "s]";
    rows[s.lane].appendChild(el);
  });
  order.forEach(function (r) { lanes.appendChild(r); });
  document.getElementById("axis").textContent = "0s … " + d.duration + "s (hover a bar for details)";
})();
</script></body></html>
`))

// writeTimeline writes the timeline page of a finished run.
func writeTimeline(path, title string, res harness.Result, spans []harness.Span) error {
	d := timelineData{Title: title, Duration: res.SimTime.Seconds()}
	for _, s := range spans {
		d.Spans = append(d.Spans, timelineSpan{Lane: s.Lane, Class: s.Class, Label: s.Label, Start: s.Start.Seconds(), End: s.End.Seconds()})
	}
	for _, v := range res.Verdicts {
		d.Verdicts = append(d.Verdicts, string(v.Status)+"  "+v.Check+": "+v.Detail)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	type verdict struct{ Short, Full string }
	var vs []verdict
	for _, v := range d.Verdicts {
		short := v
		if len(short) > 160 {
			short = short[:160] + "…"
		}
		vs = append(vs, verdict{short, v})
	}
	err = timelineTmpl.Execute(f, struct {
		Title    string
		Verdicts []verdict
		JSON     template.JS
	}{title, vs, template.JS(b)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
