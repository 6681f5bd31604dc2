package main

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// drawChart plots chunks per second against concurrency, one line per path,
// with a log scale on x (the concurrencies grow by factors of 4 to 8). The
// file's extension picks the format (png, svg, pdf).
func drawChart(file, bot string, conc []int, series map[string][]float64) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Streaming throughput (%s)", bot)
	p.X.Label.Text = "concurrent clients"
	p.Y.Label.Text = "chunks per second"
	p.X.Scale = plot.LogScale{}
	ticks := make(plot.ConstantTicks, len(conc))
	for i, c := range conc {
		ticks[i] = plot.Tick{Value: float64(c), Label: fmt.Sprint(c)}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = float64(conc[0])*0.8, float64(conc[len(conc)-1])*1.25
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, name := range pathNames {
		pts := make(plotter.XYs, len(conc))
		for k, c := range conc {
			pts[k] = plotter.XY{X: float64(c), Y: series[name][k]}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, file)
}
