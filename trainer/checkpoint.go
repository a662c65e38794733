package trainer

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"os"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/model"
)

// checkpointState is everything besides the weights that a resumed run
// needs to continue exactly where it stopped.
type checkpointState struct {
	Epoch   int // epoch being run (0-based)
	Step    int // next step within it
	LossSum float64
	LossN   int
	// Remembered counts the epoch's negatives mined from Memory.
	Remembered int
	Optimizer  optimizer
	Initial    EpochMetrics
	History    []EpochMetrics
	Best       EpochMetrics
	BestEpoch  int
	// Memory is mining's memory; of no rows without one
	// (trainconfig.Options.MiningMemory).
	Memory memory
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
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
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
	if err == nil {
		err = cf.State.check(m)
	}
	if err != nil {
		return checkpointState{}, nil, fmt.Errorf("load checkpoint %s: %w (delete it to start afresh)", path, err)
	}
	return cf.State, m, nil
}

// check reports a state that cannot belong to a run of m: the weights are
// checksummed, the state is not, so damage to it can still decode.
func (st checkpointState) check(m *model.Model) error {
	if st.Epoch < 0 || st.Step < 0 || st.LossN < 0 || st.BestEpoch < 0 || st.Optimizer.Step < 0 {
		return fmt.Errorf("damaged state: epoch %d, step %d, loss count %d, best epoch %d, optimizer step %d",
			st.Epoch, st.Step, st.LossN, st.BestEpoch, st.Optimizer.Step)
	}
	if mem := st.Memory; mem.rows() > 0 {
		a, err := m.Spec.Arch()
		if err != nil {
			return err
		}
		if err := mem.check(mem.rows(), a.Dim(), nil); err != nil {
			return err
		}
	}
	for _, buffers := range []map[string][]float32{st.Optimizer.M, st.Optimizer.V} {
		for name, b := range buffers {
			if w, ok := m.Weights[name]; !ok || len(w) != len(b) {
				return fmt.Errorf("damaged state: optimizer buffer %q has %d values for a parameter of %d", name, len(b), len(w))
			}
		}
	}
	return nil
}
