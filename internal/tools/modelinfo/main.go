// Command modelinfo prints a model file's version, spec and provenance as
// a markdown paragraph, for reports.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/deeprank/deeprank/model"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: modelinfo MODEL")
		os.Exit(2)
	}
	m, err := model.Load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "modelinfo:", err)
		os.Exit(1)
	}
	v, _ := m.Version()
	st, _ := os.Stat(os.Args[1])
	spec, _ := json.Marshal(m.Spec)
	fmt.Printf("Version `%s`, %.1f MB, best held-out epoch %d of its run, created %s.\nSpec: `%s`\n",
		v, float64(st.Size())/(1<<20), m.Provenance.Epochs, m.Provenance.Created, spec)
}
