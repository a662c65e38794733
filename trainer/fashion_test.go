package trainer_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/deeprank/deeprank/config"
	"github.com/deeprank/deeprank/internal/fixture"
	"github.com/deeprank/deeprank/trainer"
)

// TestTrainFashionMNIST trains the example configuration briefly on real
// images (Fashion-MNIST, fetched by scripts/fetch-fashion-mnist.sh) and
// requires held-out similarity precision to rise well above the untrained
// network's.
func TestTrainFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute")
	}
	data := fixture.RequireData(t, "../data/fashion-mnist/train", "scripts/fetch-fashion-mnist.sh")
	l, err := config.Load("../examples/fashion-mnist.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	o := l.Train
	o.Data.Classes = data
	o.Epochs = 1
	o.StepsPerEpoch = 120
	dir := t.TempDir()
	o.Output = filepath.Join(dir, "model.drk")
	o.RunDir = filepath.Join(dir, "run")
	res, err := trainer.Train(context.Background(), o, io.Discard, trainer.Fresh)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out similarity precision: untrained %.4f, trained %.4f", res.Initial.ValPrecision, res.Best.ValPrecision)
	if res.Best.ValPrecision < res.Initial.ValPrecision+0.04 || res.Best.ValPrecision < 0.86 {
		t.Errorf("precision %.4f from %.4f: training did not learn enough", res.Best.ValPrecision, res.Initial.ValPrecision)
	}
}
