package trainer

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"

	"github.com/deeprank/deeprank/model"
)

// checkpointState is everything besides the weights that a resumed run
// needs to continue exactly where it stopped.
type checkpointState struct {
	Epoch     int // epoch being run (0-based)
	Step      int // next step within it
	LossSum   float64
	LossN     int
	Optimizer optimizer
	Initial   EpochMetrics
	History   []EpochMetrics
	Best      EpochMetrics
	BestEpoch int
}

type checkpointFile struct {
	Model []byte // model file encoding, checksummed
	State checkpointState
}

// saveCheckpoint writes the weights and state to path in one atomic write,
// so the two always match.
func saveCheckpoint(path string, m *model.Model, st checkpointState) error {
	enc, err := m.Encode()
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(checkpointFile{Model: enc, State: st}); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := model.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// loadCheckpoint reads a checkpoint; a missing file gives an error matching
// os.ErrNotExist.
func loadCheckpoint(path string) (checkpointState, *model.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return checkpointState{}, nil, err
	}
	var cf checkpointFile
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&cf); err != nil {
		return checkpointState{}, nil, fmt.Errorf("load checkpoint %s: %w (delete it to start afresh)", path, err)
	}
	m, err := model.Decode(cf.Model)
	if err != nil {
		return checkpointState{}, nil, fmt.Errorf("load checkpoint %s: %w (delete it to start afresh)", path, err)
	}
	return cf.State, m, nil
}
