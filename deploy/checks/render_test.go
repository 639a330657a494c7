package checks

import (
	"os"
	"sort"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// panel is one chart of the rendered picture: series of one binary, plotted
// as scraped (counters as totals).
type panel struct {
	title string
	from  func(gw, fl *watcher) *watcher
	lines []line
}

type line struct {
	label, series string
}

func flusherOf(_, fl *watcher) *watcher { return fl }
func gatewayOf(gw, _ *watcher) *watcher { return gw }

// renderPanels are the dashboard's panels that a short run moves.
var renderPanels = []panel{
	{"Buffered events (flusher)", flusherOf, []line{{"buffered", buffered}}},
	{"Flush lag, s (flusher)", flusherOf, []line{{"lag", lag}}},
	{"Failed flushes (flusher, total)", flusherOf, []line{{"failed", failed}}},
	{"Flushed chats (flusher, total)", flusherOf, []line{{"chats", flushed}}},
	{"Dead-letter list (flusher)", flusherOf, []line{{"batches", dlqLen}, {"events total", dlqTotal}}},
	{"Ready (flusher)", flusherOf, []line{{"ready", ready}}},
	{"Acked events (gateway, total)", gatewayOf, []line{{"appends", "watch_party_append_duration_seconds_count"}}},
	{"Frames delivered (gateway, total)", gatewayOf, []line{{"deliveries", "watch_party_delivery_latency_seconds_count"}}},
}

// renderIfAsked draws the run's scrapes, panel by panel, into the PNG named
// by WP_RENDER_METRICS (docs/metrics-run.png is made this way:
//
//	cd deploy/checks && WP_RENDER_METRICS=../../docs/metrics-run.png go test -run TestMetricsMoveAsTheyShould .
//
// ). Without the variable it does nothing.
func renderIfAsked(t *testing.T, gw, fl *watcher) {
	out := os.Getenv("WP_RENDER_METRICS")
	if out == "" || t.Failed() {
		return
	}
	all := append(append([]sample{}, gw.samples...), fl.samples...)
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	start := all[0].at
	const cols = 2
	rows := (len(renderPanels) + cols - 1) / cols
	img := vgimg.New(vg.Points(900), vg.Points(float64(rows)*190))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(8), PadY: vg.Points(8),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, p := range renderPanels {
		pl := plot.New()
		pl.Title.Text = p.title
		pl.X.Label.Text = "seconds into the run"
		w := p.from(gw, fl)
		for k, l := range p.lines {
			var pts plotter.XYs
			for _, s := range w.samples {
				pts = append(pts, plotter.XY{X: s.at.Sub(start).Seconds(), Y: s.series[l.series]})
			}
			ln, err := plotter.NewLine(pts)
			if err != nil {
				t.Errorf("render %s: %v", p.title, err)
				return
			}
			ln.Color = plotter.DefaultLineStyle.Color
			if k == 1 {
				ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			pl.Add(ln)
			pl.Legend.Add(l.label, ln)
		}
		pl.Legend.Top = true
		pl.Add(plotter.NewGrid())
		plots[i/cols][i%cols] = pl
	}
	canvases := plot.Align(plots, tiles, dc)
	for r := range plots {
		for c := range plots[r] {
			if plots[r][c] != nil {
				plots[r][c].Draw(canvases[r][c])
			}
		}
	}
	f, err := os.Create(out)
	if err != nil {
		t.Errorf("render: %v", err)
		return
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		t.Errorf("render: %v", err)
	}
	t.Logf("rendered %d scrapes of a %v run into %s", len(all), all[len(all)-1].at.Sub(start).Round(time.Second), out)
}
