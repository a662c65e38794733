package defaultmodel

import (
	_ "embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

//go:embed dupes.yaml
var dupesYAML []byte

// CopyThreshold is the default model's calibrated near-duplicate distance
// (Euclidean, between its unit vectors): the largest at which precision is
// 0.99 on its validation photos, as dupes.yaml beside the model records.
// The model file itself is left as it is.
func CopyThreshold() (float32, error) {
	var c struct {
		MaxDistance float32 `yaml:"max_distance"`
	}
	if err := yaml.Unmarshal(dupesYAML, &c); err != nil || !(c.MaxDistance > 0 && c.MaxDistance < 2) {
		return 0, fmt.Errorf("the built-in model's dupes.yaml: max_distance %v is not in (0, 2): %v", c.MaxDistance, err)
	}
	return c.MaxDistance, nil
}
