package bench

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func itoa(i int) string { return strconv.Itoa(i) }

func sortDurations(d []time.Duration) { slices.Sort(d) }

// cell renders ours beside the peer's and their ratio.
func cell(format string, ours float64, peer *float64) string {
	s := fmt.Sprintf(format, ours)
	if peer == nil {
		return s
	}
	s += " / " + fmt.Sprintf(format, *peer)
	if *peer != 0 {
		s += fmt.Sprintf(" (%.2f×)", ours/(*peer))
	}
	return s
}

func peerOf(runs []*serverRun) *serverRun {
	if len(runs) > 1 {
		return runs[1]
	}
	return nil
}

// fanoutTable is the Markdown table of a run: per step the gateway's
// figure, then Centrifugo's and the ratio gateway/Centrifugo when it ran.
func fanoutTable(runs []*serverRun) string {
	ours, peer := runs[0], peerOf(runs)
	var sb strings.Builder
	fmt.Fprintf(&sb, "Fan-out, %s, %s. ", machine(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if peer != nil {
		sb.WriteString("Each cell: gateway / Centrifugo (ratio).\n\n")
	} else {
		sb.WriteString("Gateway only (Centrifugo not installed).\n\n")
	}
	sb.WriteString("| viewers × chats/s | delivered/s | latency p50 ms | p99 ms | max ms | server CPU µs/delivery | Redis CPU µs/delivery | load tool µs/delivery | deliveries per WS message | write syscalls per delivery | missing after drain | viewers closed |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range ours.steps {
		var p *stepResult
		if peer != nil {
			p = peer.step(s.viewers, s.rate)
		}
		f := func(get func(*stepResult) float64) *float64 {
			if p == nil {
				return nil
			}
			v := get(p)
			return &v
		}
		fmt.Fprintf(&sb, "| %s × %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			thousands(s.viewers), s.rate,
			cell("%.0f", s.deliveredPerSec, f(func(r *stepResult) float64 { return r.deliveredPerSec })),
			cell("%.1f", ms(s.p50), f(func(r *stepResult) float64 { return ms(r.p50) })),
			cell("%.1f", ms(s.p99), f(func(r *stepResult) float64 { return ms(r.p99) })),
			cell("%.0f", ms(s.maxLat), f(func(r *stepResult) float64 { return ms(r.maxLat) })),
			cell("%.2f", s.cpuPerDelivery, f(func(r *stepResult) float64 { return r.cpuPerDelivery })),
			cell("%.2f", s.redisPerDelivery, f(func(r *stepResult) float64 { return r.redisPerDelivery })),
			cell("%.2f", s.loadPerDelivery, f(func(r *stepResult) float64 { return r.loadPerDelivery })),
			cell("%.2f", s.perMessage, f(func(r *stepResult) float64 { return r.perMessage })),
			cell("%.3f", s.syscallsPerDeliv, f(func(r *stepResult) float64 { return r.syscallsPerDeliv })),
			cell("%.0f", float64(s.missing), f(func(r *stepResult) float64 { return float64(r.missing) })),
			cell("%.0f", float64(s.closed), f(func(r *stepResult) float64 { return float64(r.closed) })))
	}
	sb.WriteString("\n| figure | value |\n|---|---|\n")
	var po *float64
	if peer != nil {
		po = ptr(100 * peer.otherCPU)
	}
	fmt.Fprintf(&sb, "| other programs on the machine during the server's run (%% of a core; noise) | %s |\n", cell("%.0f", 100*ours.otherCPU, po))
	for _, n := range *fanoutViewers {
		var pv *float64
		if peer != nil {
			v := peer.rssPerViewer[n] / 1024
			pv = &v
		}
		fmt.Fprintf(&sb, "| server RSS per viewer, %s connected (KiB) | %s |\n", thousands(n), cell("%.1f", ours.rssPerViewer[n]/1024, pv))
	}
	var pr, pp, pc, pred *float64
	if peer != nil {
		pr, pp, pc, pred = &peer.ingest.rate, ptr(ms(peer.ingest.p99)), &peer.ingest.cpuPerEvent, &peer.ingest.redisPerEvt
	}
	fmt.Fprintf(&sb, "| ingest, %s clients each into its own channel: acked events/s | %s |\n", thousands(*fanoutClients), cell("%.0f", ours.ingest.rate, pr))
	fmt.Fprintf(&sb, "| ingest: ack latency p99 (ms) | %s |\n", cell("%.1f", ms(ours.ingest.p99), pp))
	fmt.Fprintf(&sb, "| ingest: server CPU µs per event | %s |\n", cell("%.1f", ours.ingest.cpuPerEvent, pc))
	fmt.Fprintf(&sb, "| ingest: Redis CPU µs per event | %s |\n", cell("%.1f", ours.ingest.redisPerEvt, pred))
	return sb.String()
}

func ptr(v float64) *float64 { return &v }

func thousands(n int) string {
	s := strconv.Itoa(n)
	if len(s) <= 3 {
		return s
	}
	return s[:len(s)-3] + "," + s[len(s)-3:]
}

// reportTargets prints the gateway's figures against Centrifugo's targets.
func reportTargets(b *testing.B, ours, peer *serverRun) {
	b.Helper()
	check := func(what string, ratio, target float64, lower bool) {
		ok := ratio >= target
		rel := ">="
		if lower {
			ok, rel = ratio <= target, "<="
		}
		verdict := "OK"
		if !ok {
			verdict = "BELOW TARGET"
		}
		result(b, "TARGET %s: ratio gateway/centrifugo %.2f (target %s %.2f): %s", what, ratio, rel, target, verdict)
	}
	n := maxViewers()
	if o, p := ours.saturated(n), peer.saturated(n); o != nil && p != nil {
		check(fmt.Sprintf("%d viewers at saturation, delivered/s (%.0f vs %.0f)", n, o.deliveredPerSec, p.deliveredPerSec),
			o.deliveredPerSec/p.deliveredPerSec, 1.5, false)
		check(fmt.Sprintf("%d viewers at saturation, server CPU per delivery (%.2fµs vs %.2fµs)", n, o.cpuPerDelivery, p.cpuPerDelivery),
			o.cpuPerDelivery/p.cpuPerDelivery, 0.6, true)
		b.ReportMetric(o.deliveredPerSec/p.deliveredPerSec, "ratio_delivered")
	}
	small := (*fanoutViewers)[0]
	for _, r := range *fanoutRates1k {
		if r != 100 {
			continue
		}
		if o, p := ours.step(small, r), peer.step(small, r); o != nil && p != nil && p.p99 > 0 {
			check(fmt.Sprintf("%d viewers × %d chats/s, p99 latency (%.1fms vs %.1fms)", small, r, ms(o.p99), ms(p.p99)),
				float64(o.p99)/float64(p.p99), 0.5, true)
		}
	}
	o, p := ours.rssPerViewer[n], peer.rssPerViewer[n]
	if p > 0 {
		check(fmt.Sprintf("RSS per viewer at %d (%.1f KiB vs %.1f KiB; also <= 20 KiB: %v)", n, o/1024, p/1024, o <= 20*1024),
			o/p, 0.5, true)
	}
	if peer.ingest.rate > 0 {
		check(fmt.Sprintf("ingest, %d clients, acked events/s (%.0f vs %.0f)", *fanoutClients, ours.ingest.rate, peer.ingest.rate),
			ours.ingest.rate/peer.ingest.rate, 1.5, false)
		b.ReportMetric(ours.ingest.rate/peer.ingest.rate, "ratio_ingest")
	}
	if peer.ingest.redisPerEvt > 0 {
		check(fmt.Sprintf("ingest, Redis CPU per ack (%.1fµs vs %.1fµs)", ours.ingest.redisPerEvt, peer.ingest.redisPerEvt),
			ours.ingest.redisPerEvt/peer.ingest.redisPerEvt, 1.0, true)
	}
	reportTail(b, ours, peer, check)
}

// reportTail checks the p99 delivery latency of every step both servers
// kept up with (below saturation): at most Centrifugo's in each, and at
// most half of it in the median one.
func reportTail(b *testing.B, ours, peer *serverRun, check func(what string, ratio, target float64, lower bool)) {
	b.Helper()
	var ratios []float64
	for _, o := range ours.steps {
		p := peer.step(o.viewers, o.rate)
		if p == nil || p.p99 <= 0 || !o.keptUp() || !p.keptUp() {
			continue
		}
		r := float64(o.p99) / float64(p.p99)
		ratios = append(ratios, r)
		check(fmt.Sprintf("%d viewers × %d chats/s (below saturation), p99 latency (%.1fms vs %.1fms)",
			o.viewers, o.rate, ms(o.p99), ms(p.p99)), r, 1.0, true)
	}
	if len(ratios) == 0 {
		return
	}
	slices.Sort(ratios)
	check(fmt.Sprintf("median of the %d steps below saturation, p99 latency", len(ratios)), ratios[len(ratios)/2], 0.5, true)
}

// writeFanoutDocs writes the table to bench-fanout.md and the chart to
// bench-fanout.png in -fanout.out.
func writeFanoutDocs(b *testing.B, runs []*serverRun, table string) {
	b.Helper()
	if err := os.MkdirAll(*fanoutOut, 0o755); err != nil {
		b.Fatal(err)
	}
	md := filepath.Join(*fanoutOut, "bench-fanout.md")
	body := "# Fan-out benchmark\n\nWritten by `make bench-fanout` / `make bench-peer` (bench/fanout_test.go); see bench/README.md.\n\n" + table
	if err := os.WriteFile(md, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	png := filepath.Join(*fanoutOut, "bench-fanout.png")
	if err := drawFanout(runs, png); err != nil {
		b.Fatalf("chart: %v", err)
	}
	say(b, "wrote %s and %s", md, png)
}

func drawFanout(runs []*serverRun, path string) error {
	delivered := plot.New()
	delivered.Title.Text = "delivered/s vs offered (viewers × chats/s)"
	delivered.X.Label.Text = "offered deliveries/s (thousands)"
	delivered.Y.Label.Text = "delivered/s while publishing (thousands)"
	latency := plot.New()
	latency.Title.Text = "p99 delivery latency"
	latency.X.Label.Text = "offered deliveries/s (thousands)"
	latency.Y.Label.Text = "p99 ms (log)"
	latency.Y.Scale = plot.LogScale{}
	latency.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	colors := []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 255}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 255}}
	for ri, r := range runs {
		for vi, n := range *fanoutViewers {
			var dpts, lpts plotter.XYs
			for _, s := range r.steps {
				if s.viewers != n {
					continue
				}
				x := float64(s.viewers*s.rate) / 1000
				dpts = append(dpts, plotter.XY{X: x, Y: s.deliveredPerSec / 1000})
				lpts = append(lpts, plotter.XY{X: x, Y: max(ms(s.p99), 0.1)})
			}
			label := fmt.Sprintf("%s, %s viewers", r.name, thousands(n))
			for _, pair := range []struct {
				p   *plot.Plot
				pts plotter.XYs
			}{{delivered, dpts}, {latency, lpts}} {
				line, points, err := plotter.NewLinePoints(pair.pts)
				if err != nil {
					return err
				}
				line.Color, points.Color = colors[ri%len(colors)], colors[ri%len(colors)]
				if vi > 0 {
					line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
					points.Shape = draw.BoxGlyph{}
				}
				pair.p.Add(line, points)
				pair.p.Legend.Add(label, line, points)
			}
		}
	}
	delivered.Legend.Top, delivered.Legend.Left = true, true
	latency.Legend.Top, latency.Legend.Left = true, true
	const w, h = 12 * vg.Inch, 4.5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{delivered, latency}}, tiles, dc)
	delivered.Draw(canvases[0][0])
	latency.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return err
	}
	return f.Close()
}
