package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/trainer"
)

// trainLong is the train command's long help.
const trainLong = `Train learns the deep-ranking embedding with the per-triplet hinge loss
max(0, g + D(q,p) - D(q,n)), D the squared Euclidean distance.

Triplets come from a triplet file (train.data.triplets, one
"query,positive,negative" line each, paths relative to train.data.root) or
are sampled every epoch from a folder of class subfolders
(train.data.classes). A share of the data is held out and scored after every
epoch; the best model is written to train.output. Checkpoints, metrics.csv and
curves.png go to train.run_dir. Ctrl-C writes a checkpoint; --resume goes on
from it. When the run folder holds a checkpoint, train refuses to start
without --resume (go on with that run) or --restart (start over, deleting
it): a new run would overwrite it.`

const trainExample = `  deeprank train --config retrain.yaml
  deeprank train --config retrain.yaml --resume
  deeprank train --config retrain.yaml --restart
  DEEPRANK_TRAIN_EPOCHS=5 deeprank train --config retrain.yaml --output small.drk`

func newTrainCmd() *cobra.Command {
	var resume, restart bool
	cmd := &cobra.Command{
		Use:     "train --config FILE",
		Short:   "Train a deep-ranking model from triplets",
		Long:    trainLong,
		Example: trainExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd, trainFlags)
			if err != nil {
				return err
			}
			if err := l.Train.Validate(); err != nil {
				return err
			}
			start := trainer.Fresh
			switch {
			case resume && restart:
				return usagef("train: --resume and --restart contradict each other: give one")
			case resume:
				start = trainer.Resume
			case restart:
				start = trainer.Restart
			}
			_, err = trainer.Train(cmd.Context(), l.Train, cmd.ErrOrStderr(), start)
			if errors.Is(err, trainer.ErrCheckpointExists) {
				return usagef("%w: continue that run with --resume, or start over with --restart, which deletes the checkpoint (or set another train.run_dir, --run-dir)", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&resume, "resume", false, "continue from the checkpoint in the run folder, if any")
	f.BoolVar(&restart, "restart", false, "start over, deleting the checkpoint in the run folder (without it or --resume, train refuses to overwrite one)")
	f.Int("epochs", 0, "epochs to train")
	f.String("output", "", "model file to write")
	f.String("run-dir", "", "folder for checkpoints and curves")
	f.Uint64("seed", 0, "random seed")
	f.String("init-model", "", "model file to fine-tune")
	nameKeys(cmd, trainFlags)
	return cmd
}

// trainFlags are the keys train's flags set.
var trainFlags = map[string]string{
	"train.epochs":     "epochs",
	"train.output":     "output",
	"train.run_dir":    "run-dir",
	"train.seed":       "seed",
	"train.init_model": "init-model",
}
