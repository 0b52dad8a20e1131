package bench

import (
	"fmt"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots draws test loss and accuracy against training time, one line
// per configuration, and the scaling curve of the configurations that ran.
func writePlots(dir string, rs []Result) error {
	var ran []Result
	for _, r := range rs {
		if r.Skipped == "" && r.Error == "" && len(r.Curve) > 0 {
			ran = append(ran, r)
		}
	}
	if err := writeCurve(filepath.Join(dir, "loss.png"), ran, "test loss against training time", "BCE loss",
		func(p Point) float64 { return p.Loss }); err != nil {
		return err
	}
	if err := writeCurve(filepath.Join(dir, "accuracy.png"), ran, "test accuracy against training time", "accuracy",
		func(p Point) float64 { return p.Accuracy }); err != nil {
		return err
	}
	return writeScaling(filepath.Join(dir, "scaling.png"), ran)
}

// writeCurve draws y of every evaluation against training time, one line
// per configuration.
func writeCurve(path string, ran []Result, title, ylabel string, y func(Point) float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "training time (s)"
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	var args []any
	for _, r := range ran {
		xy := make(plotter.XYs, len(r.Curve))
		for i, pt := range r.Curve {
			xy[i].X, xy[i].Y = pt.Seconds, y(pt)
		}
		args = append(args, seriesName(r), xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return fmt.Errorf("bench plot %s: %w", filepath.Base(path), err)
	}
	return savePlot(p, path)
}

// writeScaling draws tokens/s against CPUs per approach and rank count,
// with perfect scaling from the 1-CPU ddp row for reference.
func writeScaling(path string, ran []Result) error {
	p := plot.New()
	p.Title.Text = "scaling: real tokens/s against CPUs"
	p.X.Label.Text = "CPUs used"
	p.Y.Label.Text = "tokens/s"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min = 0
	groups := map[string]plotter.XYs{}
	var names []string
	base := 0.0
	maxCPU := 1
	for _, r := range ran {
		name := fmt.Sprintf("%s, %d rank(s)", r.Approach, r.Ranks)
		if _, ok := groups[name]; !ok {
			names = append(names, name)
		}
		groups[name] = append(groups[name], plotter.XY{X: float64(r.CPUs), Y: r.TokensPerS})
		if r.Approach == DDP && r.CPUs == 1 && r.Ranks == 1 {
			base = r.TokensPerS
		}
		maxCPU = max(maxCPU, r.CPUs)
	}
	var args []any
	for _, n := range names {
		xy := groups[n]
		sort.Slice(xy, func(i, j int) bool { return xy[i].X < xy[j].X })
		args = append(args, n, xy)
	}
	if base > 0 {
		args = append(args, "perfect scaling", plotter.XYs{{X: 1, Y: base}, {X: float64(maxCPU), Y: base * float64(maxCPU)}})
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return fmt.Errorf("bench plot %s: %w", filepath.Base(path), err)
	}
	return savePlot(p, path)
}

func seriesName(r Result) string {
	return fmt.Sprintf("%s x%d cpu, %d rank(s)", r.Approach, r.CPUs, r.Ranks)
}

func savePlot(p *plot.Plot, path string) error {
	if err := p.Save(16*vg.Centimeter, 11*vg.Centimeter, path); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}
