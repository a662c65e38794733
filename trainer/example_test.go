package trainer_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/trainer"
	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// Train learns from a folder of class subfolders: triplets take their
// positive from the query's class and their negative from another.
func ExampleTrain() {
	dir, err := os.MkdirTemp("", "trainer")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	// Four classes of three images: a colour with a white square that
	// moves.
	colours := []color.RGBA{{200, 40, 40, 255}, {40, 200, 40, 255}, {40, 40, 200, 255}, {200, 200, 40, 255}}
	for c, col := range colours {
		class := filepath.Join(dir, "images", fmt.Sprint("class", c))
		if err := os.MkdirAll(class, 0o755); err != nil {
			panic(err)
		}
		for i := range 3 {
			img := image.NewRGBA(image.Rect(0, 0, 24, 24))
			draw.Draw(img, img.Bounds(), image.NewUniform(col), image.Point{}, draw.Src)
			draw.Draw(img, image.Rect(4*i, 4*i, 4*i+8, 4*i+8), image.NewUniform(color.White), image.Point{}, draw.Src)
			f, err := os.Create(filepath.Join(class, fmt.Sprint(i, ".png")))
			if err != nil {
				panic(err)
			}
			png.Encode(f, img)
			f.Close()
		}
	}

	opts := trainconfig.Default()
	// A network far smaller than the default, to train in a moment.
	opts.Model = model.DefaultSpec()
	opts.Model.InputSize, opts.Model.Width, opts.Model.Stages = 16, 4, 2
	opts.Model.DenseDim, opts.Model.EmbeddingDim = 16, 8
	opts.Model.Shallow = model.ScaledShallowBranches(16)
	opts.Data.Classes = filepath.Join(dir, "images")
	opts.Data.ValFraction = 0.25
	opts.Epochs, opts.StepsPerEpoch, opts.BatchSize = 3, 3, 4
	opts.SelectBy = "loss"
	opts.Output = filepath.Join(dir, "model.drk")
	opts.RunDir = filepath.Join(dir, "run")

	res, err := trainer.Train(context.Background(), opts, io.Discard, trainer.Fresh)
	if err != nil {
		panic(err)
	}
	// The best epoch is the one of lowest held-out loss, and the model
	// file holds it.
	lowest := res.History[0]
	for _, e := range res.History[1:] {
		if e.ValLoss < lowest.ValLoss {
			lowest = e
		}
	}
	m, err := model.Load(opts.Output)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d epochs; the best has the lowest held-out loss: %v; %s holds it: %v\n",
		len(res.History), res.Best.Epoch == lowest.Epoch, filepath.Base(opts.Output),
		m.Provenance.Epochs == lowest.Epoch && m.Provenance.Metrics["val_loss"] == lowest.ValLoss)
	// Output: 3 epochs; the best has the lowest held-out loss: true; model.drk holds it: true
}
