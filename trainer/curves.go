package trainer

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"path/filepath"
	"strconv"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// writeCurves writes metrics.csv and curves.png into dir. Epoch 0 is the
// untrained network.
func writeCurves(dir string, initial EpochMetrics, history []EpochMetrics) error {
	rows := append([]EpochMetrics{initial}, history...)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"epoch", "train_loss", "val_loss", "val_precision", "val_recall1", "suite_mean_recall1", "triplets_per_sec", "seconds"})
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 5, 64) }
	for _, m := range rows {
		w.Write([]string{strconv.Itoa(m.Epoch), f(m.TrainLoss), f(m.ValLoss), f(m.ValPrecision), f(m.ValRecall1), f(m.SuiteMean), f(m.TripletsPerSec), f(m.Seconds)})
	}
	w.Flush()
	if err := atomicfile.WriteFile(filepath.Join(dir, "metrics.csv"), buf.Bytes()); err != nil {
		return fmt.Errorf("write curves: %w", err)
	}
	buf.Reset()
	if err := png.Encode(&buf, plotCurves(rows)); err != nil {
		return fmt.Errorf("write curves: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "curves.png"), buf.Bytes()); err != nil {
		return fmt.Errorf("write curves: %w", err)
	}
	return nil
}

type series struct {
	name string
	col  color.RGBA
	ys   []float64
}

// plotCurves draws two panels: losses, and held-out precision and recall.
func plotCurves(rows []EpochMetrics) *image.RGBA {
	const W, H = 900, 360
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	col := func(f func(EpochMetrics) float64) []float64 {
		v := make([]float64, len(rows))
		for i, m := range rows {
			v[i] = f(m)
		}
		return v
	}
	blue, red, green := color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255}
	train := col(func(m EpochMetrics) float64 { return m.TrainLoss })
	train[0] = math.NaN() // no training loss before training
	panel(img, image.Rect(10, 10, W/2-10, H-10), "loss", []series{
		{"train", blue, train},
		{"held-out", red, col(func(m EpochMetrics) float64 { return m.ValLoss })},
	})
	scores := []series{{"precision", blue, col(func(m EpochMetrics) float64 { return m.ValPrecision })}}
	if rows[0].ValRecall1 >= 0 {
		scores = append(scores, series{"recall@1", green, col(func(m EpochMetrics) float64 { return m.ValRecall1 })})
	}
	if rows[0].SuiteMean >= 0 {
		scores = append(scores, series{"suite", red, col(func(m EpochMetrics) float64 { return m.SuiteMean })})
	}
	panel(img, image.Rect(W/2+10, 10, W-10, H-10), "held-out score", scores)
	return img
}

func panel(img *image.RGBA, r image.Rectangle, title string, ss []series) {
	grey := color.RGBA{120, 120, 120, 255}
	plot := image.Rect(r.Min.X+50, r.Min.Y+25, r.Max.X-10, r.Max.Y-30)
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range ss {
		n = max(n, len(s.ys))
		for _, y := range s.ys {
			if !math.IsNaN(y) {
				lo, hi = min(lo, y), max(hi, y)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	label(img, r.Min.X+50, r.Min.Y+14, title, color.Black)
	for i := range 5 {
		v := lo + (hi-lo)*float64(i)/4
		y := plot.Max.Y - int(float64(plot.Dy())*float64(i)/4)
		hline(img, plot.Min.X, plot.Max.X, y, color.RGBA{230, 230, 230, 255})
		label(img, r.Min.X, y+4, fmt.Sprintf("%.3f", v), grey)
	}
	hline(img, plot.Min.X, plot.Max.X, plot.Max.Y, grey)
	label(img, plot.Min.X, plot.Max.Y+16, "epoch 0", grey)
	label(img, plot.Max.X-20, plot.Max.Y+16, strconv.Itoa(n-1), grey)
	px := func(i int) int {
		if n < 2 {
			return plot.Min.X
		}
		return plot.Min.X + i*plot.Dx()/(n-1)
	}
	py := func(v float64) int { return plot.Max.Y - int((v-lo)/(hi-lo)*float64(plot.Dy())) }
	for si, s := range ss {
		label(img, plot.Min.X+10+110*si, plot.Min.Y+12, "-- "+s.name, s.col)
		for i := 1; i < len(s.ys); i++ {
			if !math.IsNaN(s.ys[i-1]) && !math.IsNaN(s.ys[i]) {
				line(img, px(i-1), py(s.ys[i-1]), px(i), py(s.ys[i]), s.col)
			}
		}
		for i, y := range s.ys {
			if !math.IsNaN(y) {
				draw.Draw(img, image.Rect(px(i)-2, py(y)-2, px(i)+3, py(y)+3), image.NewUniform(s.col), image.Point{}, draw.Src)
			}
		}
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

// line draws a segment with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		img.Set(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int  { return max(v, -v) }
func sign(v int) int { return min(max(v, -1), 1) }

func label(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
