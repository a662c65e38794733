package embedder_test

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/model"
)

func Example() {
	m, err := model.New(model.DefaultSpec(), model.UnitNormalization())
	if err != nil {
		panic(err)
	}
	m.Initialize(1)
	e, err := embedder.New(m, nil)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "embedder")
	defer os.RemoveAll(dir)
	img := filepath.Join(dir, "grey.png")
	f, _ := os.Create(img)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 10, 10)))
	f.Close()

	res, err := e.EmbedFiles(context.Background(), []string{img, filepath.Join(dir, "missing.png")})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res[0].Vector), res[0].Err)
	fmt.Println(res[1].Vector == nil, os.IsNotExist(res[1].Err))
	// Output:
	// 128 <nil>
	// true true
}
