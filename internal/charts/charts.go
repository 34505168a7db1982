// Package charts writes time series as one self-contained HTML page of
// interactive charts (go-echarts, with the ECharts script embedded, so that
// nothing is fetched when the page is opened): lines over time with
// threshold lines, marks for events and shaded spans, and lanes of spans
// (which alerts fired when), under sections of text and tables that the
// charts illustrate. It knows nothing of what the series mean.
package charts

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
)

// Page is one HTML file: a title, lines of text, sections of text and
// tables, then the figures in order.
type Page struct {
	Title    string
	Notes    []string
	Sections []Section
	// Figures are *LineChart and *SpanChart.
	Figures []Figure
}

// Section is a heading over paragraphs, a table (none without Columns)
// and more paragraphs: the words a page's charts illustrate.
type Section struct {
	Heading       string
	Before, After []string
	Columns       []string
	Rows          [][]string
}

// Figure is one chart of a page.
type Figure interface {
	renderer(id string) render.Renderer
}

// LineChart is values over time on one axis, with horizontal threshold
// lines, vertical marks at events and shaded spans.
type LineChart struct {
	Title string
	// Unit names the value axis ("replicas", "requests per second per pod").
	Unit       string
	Lines      []Line
	Thresholds []Threshold
	Events     []Event
	Spans      []Span
}

// Line is one series. A NaN value has none: the line breaks there.
type Line struct {
	Name   string
	Points []Point
	// Dashed draws what is not a measurement: a forecast, a proposal.
	Dashed bool
	// Step holds each value until the next (a replica count) instead of
	// joining values by slopes.
	Step bool
}

// Point is a value at a time.
type Point struct {
	At    time.Time
	Value float64
}

// Threshold is a horizontal line across a chart.
type Threshold struct {
	Name  string
	Value float64
}

// Event is a vertical mark at a moment (a scale event).
type Event struct {
	At    time.Time
	Label string
}

// Span is a range of time (an alert firing, data missing).
type Span struct {
	From, To time.Time
	Label    string
}

// SpanChart is named lanes, each a row of spans over time: alerts firing.
type SpanChart struct {
	Title string
	Lanes []Lane
	// From and To are the time axis (zero: the spans' own range), so that
	// it lines up with the line charts of the same page.
	From, To time.Time
}

// Lane is one row of a SpanChart.
type Lane struct {
	Name  string
	Spans []Span
}

const (
	width       = "1100px"
	lineHeight  = 360
	laneHeight  = 26
	spanPadding = 110 // title, axis and zoom slider around the lanes
)

// Colours of the marks, apart from the palette of the lines.
const (
	thresholdColour = "#d62728"
	eventColour     = "#555555"
	spanColour      = "rgba(255, 160, 0, 0.18)"
)

// Write writes the page as one HTML document with the ECharts script in it.
func Write(w io.Writer, p Page) error { return write(w, p, echartsJS) }

// write takes the script apart so that a test can leave it out, and see
// the browser check fail.
func write(w io.Writer, p Page, script string) error {
	data := pageData{Title: p.Title, Notes: p.Notes, Sections: p.Sections, Script: template.JS(script)}
	for i, f := range p.Figures {
		snippet := f.renderer(fmt.Sprintf("chart%d", i+1)).RenderSnippet()
		script, err := closeSafe(snippet.Script)
		if err != nil {
			return err
		}
		data.Figures = append(data.Figures, template.HTML(snippet.Element+"\n"+script))
	}
	return pageTemplate.Execute(w, data)
}

type pageData struct {
	Title    string
	Notes    []string
	Sections []Section
	Script   template.JS
	Figures  []template.HTML
}

// closeSafe keeps a chart's script inside its <script> element: go-echarts
// writes the option JSON unescaped, so a label holding "</script>" would
// end it. Both sequences only occur there inside JSON strings, where "<\/"
// reads as "</".
func closeSafe(script string) (string, error) {
	const open, end = `<script type="text/javascript">`, "</script>"
	body, ok := strings.CutPrefix(strings.TrimSpace(script), open)
	body, ok2 := strings.CutSuffix(body, end)
	if !ok || !ok2 {
		return "", fmt.Errorf("charts: go-echarts' chart script is not one <script> element: %.80q", script)
	}
	body = strings.NewReplacer("</", `<\/`, "<!--", `<\!--`).Replace(body)
	return open + body + end, nil
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body { font-family: sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
p { margin: 4px 0; }
.container { margin-top: 24px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
</style>
<script>{{.Script}}</script>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Notes}}<p>{{.}}</p>
{{end}}
{{- range .Sections}}<h2>{{.Heading}}</h2>
{{range .Before}}<p>{{.}}</p>
{{end}}
{{- if .Columns}}<table>
<tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{end}}
{{- range .After}}<p>{{.}}</p>
{{end}}
{{- end}}
{{- range .Figures}}{{.}}
{{end -}}
</body>
</html>
`))

// utc shows times in UTC whatever the reader's time zone, as the text
// reports do.
type utc struct {
	charts.BaseConfigurationVisitor
}

func (utc) Visit(chart map[string]interface{}) { chart["useUTC"] = true }

func (c *LineChart) renderer(id string) render.Renderer {
	line := charts.NewLine()
	line.Accept(utc{})
	line.SetGlobalOptions(common(id, c.Title, lineHeight, opts.Grid{Left: "70px", Right: "40px", Top: "70px", Bottom: "60px"})...)
	yAxis := opts.YAxis{Name: c.Unit, Type: "value"}
	if top, ok := c.axisTop(); ok {
		// ECharts sizes the axis to the data, and a threshold above it
		// would not be drawn.
		yAxis.Max = top
	}
	line.SetGlobalOptions(
		charts.WithYAxisOpts(yAxis),
		charts.WithTooltipOpts(opts.Tooltip{Trigger: "axis"}),
	)
	for i, l := range c.Lines {
		data := make([]opts.LineData, len(l.Points))
		for k, p := range l.Points {
			data[k] = opts.LineData{Value: []interface{}{millis(p.At), value(p.Value)}}
		}
		lineOpts := opts.LineChart{ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)}
		if l.Step {
			lineOpts.Step = "end"
		}
		seriesOpts := []charts.SeriesOpts{charts.WithLineChartOpts(lineOpts)}
		if l.Dashed {
			seriesOpts = append(seriesOpts, charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Width: 2}))
		}
		if i == 0 {
			// Marks belong to a series in ECharts; the first carries them all.
			seriesOpts = append(seriesOpts, charts.WithSeriesOpts(func(s *charts.SingleSeries) {
				s.MarkLines = c.markLines()
				s.MarkAreas = spanAreas(c.Spans)
			}))
		}
		line.AddSeries(l.Name, data, seriesOpts...)
	}
	return line.Renderer
}

// axisTop is a round value axis maximum above the highest threshold, when
// that threshold is above every value.
func (c *LineChart) axisTop() (float64, bool) {
	top, highest := math.Inf(-1), math.Inf(-1)
	for _, l := range c.Lines {
		for _, p := range l.Points {
			if !math.IsNaN(p.Value) {
				top = max(top, p.Value)
			}
		}
	}
	for _, t := range c.Thresholds {
		highest = max(highest, t.Value)
	}
	if highest <= top || highest <= 0 {
		return 0, false
	}
	return niceCeil(highest * 1.1), true
}

// niceCeil is the smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a
// power of ten at or above v (v > 0), a value ECharts can put a tick on.
func niceCeil(v float64) float64 {
	scale := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*scale >= v*(1-1e-9) {
			return m * scale
		}
	}
	return 10 * scale
}

func (c *LineChart) markLines() *opts.MarkLines {
	if len(c.Thresholds) == 0 && len(c.Events) == 0 {
		return nil
	}
	var data []interface{}
	for _, t := range c.Thresholds {
		data = append(data, map[string]interface{}{
			"name": t.Name, "yAxis": t.Value,
			"lineStyle": map[string]interface{}{"color": thresholdColour, "type": "dashed", "width": 1.5},
			"label":     map[string]interface{}{"formatter": fmt.Sprintf("%s %g", t.Name, t.Value), "position": "insideEndTop", "color": thresholdColour},
		})
	}
	for _, e := range c.Events {
		data = append(data, map[string]interface{}{
			"name": e.Label, "xAxis": millis(e.At),
			"lineStyle": map[string]interface{}{"color": eventColour, "type": "dotted", "width": 1},
			"label":     map[string]interface{}{"formatter": e.Label, "position": "insideEndTop", "color": eventColour},
		})
	}
	return &opts.MarkLines{Data: data, MarkLineStyle: opts.MarkLineStyle{Symbol: []string{"none", "none"}}}
}

func spanAreas(spans []Span) *opts.MarkAreas {
	if len(spans) == 0 {
		return nil
	}
	var data []interface{}
	for _, s := range spans {
		data = append(data, []interface{}{
			map[string]interface{}{"name": s.Label, "xAxis": millis(s.From)},
			map[string]interface{}{"xAxis": millis(s.To)},
		})
	}
	return &opts.MarkAreas{Data: data, MarkAreaStyle: opts.MarkAreaStyle{
		ItemStyle: &opts.ItemStyle{Color: spanColour},
		Label:     &opts.Label{Show: opts.Bool(true), Position: "insideTop", Color: "#8a5a00"},
	}}
}

func (c *SpanChart) renderer(id string) render.Renderer {
	line := charts.NewLine()
	line.Accept(utc{})
	// Lane names are long (an alert and its labels): the grid leaves them room.
	grid := opts.Grid{Left: "350px", Right: "40px", Top: "50px", Bottom: "60px"}
	line.SetGlobalOptions(common(id, c.Title, spanPadding+laneHeight*max(len(c.Lanes), 1), grid)...)
	names := make([]string, len(c.Lanes))
	for i, l := range c.Lanes {
		names[i] = l.Name
	}
	xAxis := opts.XAxis{Type: "time", Min: "dataMin", Max: "dataMax"}
	if !c.From.IsZero() && !c.To.IsZero() {
		xAxis.Min, xAxis.Max = millis(c.From), millis(c.To)
	}
	line.SetGlobalOptions(
		charts.WithXAxisOpts(xAxis),
		// The first lane on top, as a list reads.
		charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: names, Inverse: opts.Bool(true),
			AxisLabel: &opts.AxisLabel{Width: 330, Overflow: "truncate"}}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithTooltipOpts(opts.Tooltip{Trigger: "item"}),
	)
	for _, l := range c.Lanes {
		// A lane is one series: each span a thick segment, a gap between.
		var data []opts.LineData
		for i, s := range l.Spans {
			if i > 0 {
				data = append(data, opts.LineData{Value: []interface{}{millis(s.From), "-"}})
			}
			data = append(data,
				opts.LineData{Name: s.Label, Value: []interface{}{millis(s.From), l.Name}},
				opts.LineData{Name: s.Label, Value: []interface{}{millis(s.To), l.Name}})
		}
		line.AddSeries(l.Name, data,
			charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)}),
			charts.WithLineStyleOpts(opts.LineStyle{Width: 10}))
	}
	return line.Renderer
}

// common are the options of every figure: its id, size, title, time axis,
// zoom (the wheel, and a slider under the axis), no animation (the page is
// read, not watched, and a screenshot shows the final picture).
func common(id, title string, height int, grid opts.Grid) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{ChartID: id, Width: width, Height: fmt.Sprintf("%dpx", height), Renderer: "canvas"}),
		charts.WithTitleOpts(opts.Title{Title: title}),
		charts.WithAnimation(false),
		charts.WithXAxisOpts(opts.XAxis{Type: "time"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "28px"}),
		charts.WithGridOpts(grid),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}, opts.DataZoom{Type: "slider", Start: 0, End: 100}),
	}
}

// millis is ECharts' time: milliseconds since the epoch.
func millis(t time.Time) int64 { return t.UnixMilli() }

// value is ECharts' missing value for NaN (JSON has no NaN).
func value(v float64) interface{} {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return v
}
