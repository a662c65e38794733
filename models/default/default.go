// Package defaultmodel holds deeprank's default model, built into the
// binary so that ingest and query work with no model file at hand.
//
// The model was trained by deeprank's own trainer; stage1.yaml to
// stage3.yaml beside this file are its recipe (scripts/train-default-model.sh
// runs them in turn) and REPORT.md is its evaluation.
package defaultmodel

import (
	_ "embed"
	"fmt"

	"github.com/deeprank/deeprank/model"
)

//go:embed model.drk
var encoded []byte

// Load decodes the default model.
func Load() (*model.Model, error) {
	m, err := model.Decode(encoded)
	if err != nil {
		return nil, fmt.Errorf("load the built-in default model: %w", err)
	}
	return m, nil
}
