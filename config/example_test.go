package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deeprank/deeprank/config"
)

func ExampleLoad() {
	dir, err := os.MkdirTemp("", "config")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "deeprank.yaml")
	body := "query:\n  top_k: 5\ntrain:\n  epochs: 3\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		panic(err)
	}
	c, err := config.Load(file, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("query.top_k:", c.Query.TopK, "from", c.Sources["query.top_k"])
	fmt.Println("train.epochs:", c.Train.Epochs, "from", c.Sources["train.epochs"])
	fmt.Println("store.kind:", c.Store.Kind, "from", c.Sources["store.kind"])

	// A mistyped key is an ErrInvalid that names it ("unknown key
	// \"query.topk\" in FILE").
	if err := os.WriteFile(file, []byte("query:\n  topk: 5\n"), 0o644); err != nil {
		panic(err)
	}
	_, err = config.Load(file, nil)
	fmt.Println(errors.Is(err, config.ErrInvalid))
	// Output:
	// query.top_k: 5 from file
	// train.epochs: 3 from file
	// store.kind: embedded from default
	// true
}
