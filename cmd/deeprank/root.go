package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deeprank/deeprank/config"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "deeprank",
		Short: "Fine-grained image similarity search with deep ranking",
		Long: `deeprank finds similar images. It embeds images with a network learnt from
(query, positive, negative) triplets, after "Learning Fine-grained Image
Similarity with Deep Ranking" (Wang et al., CVPR 2014), stores the vectors and
searches them.

  deeprank ingest --collection images ./photos    embed and store a folder
  deeprank query --image x.jpg                    find the most similar images
  deeprank train --config retrain.yaml            learn a model of your own

Without --model, the default model built into deeprank is used; without
--store-dir, vectors live under ~/.local/share/deeprank.

Configuration comes from built-in defaults, a YAML file (--config), DEEPRANK_*
environment variables and flags, each overriding the one before; see
config.example.yaml for every key.

EXIT STATUS
  0    success
  1    failure (the message says what failed)
  2    usage or configuration error
  3    ingest finished, but some files failed (listed in its summary)
  130  interrupted (Ctrl-C or SIGTERM); training leaves a checkpoint to --resume`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().String("config", "", "YAML configuration file (see config.example.yaml)")
	root.AddCommand(newIngestCmd(), newQueryCmd(), newCollectionsCmd(), newConfigCmd(), newTrainCmd(), newTripletsCmd(), newEvalCmd(), newDistanceCmd(), newReindexCmd(),
		newCheckCmd(), newRepairCmd(), newCompactCmd())
	return root
}

// loadConfig reads the configuration named by --config, with the flags of
// cmd bound to their keys.
func loadConfig(cmd *cobra.Command, bind map[string]string) (*config.Loaded, error) {
	file, _ := cmd.Flags().GetString("config")
	flags := map[string]*pflag.Flag{}
	for key, name := range bind {
		flags[key] = cmd.Flags().Lookup(name)
	}
	return config.Load(file, flags)
}
