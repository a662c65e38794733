package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/deeprank/deeprank/config"
)

// newRootCmd returns the deeprank command, ready to execute.
func newRootCmd() *cobra.Command {
	root := newCommandTree()
	// cobra adds its completion command only when executing; add it now so
	// that markUsageErrors reaches it too.
	root.InitDefaultCompletionCmd()
	root.SetHelpCommand(newHelpCmd())
	markUsageErrors(root)
	return root
}

// newHelpCmd replaces cobra's help command, which answers a command that
// does not exist with "Unknown help topic" and exit status 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("help: unknown command %q; see '%s --help' for the commands", strings.Join(args, " "), cmd.Root().Name())
			}
			return target.Help()
		},
	}
}

// newCommandTree returns the root command with every subcommand.
func newCommandTree() *cobra.Command {
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
  3    ingest, or a batch of queries, finished, but some files failed (listed)
  10   sync changed the collection
  130  interrupted (Ctrl-C or SIGTERM); training leaves a checkpoint to --resume`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().String("config", "", "YAML configuration file (see config.example.yaml)")
	root.AddCommand(newIngestCmd(), newQueryCmd(), newCollectionsCmd(), newConfigCmd(), newTrainCmd(), newTripletsCmd(), newEvalCmd(), newDistanceCmd(), newReindexCmd(),
		newCheckCmd(), newRepairCmd(), newCompactCmd(), newServeCmd(), newDupesCmd(), newSyncCmd())
	return root
}

// markUsageErrors makes every error cobra finds in how a command was called
// a usageError, so that main exits 2 as the help promises: cobra's own
// errors are plain and would exit 1. A bad flag or flag value goes through
// the flag error function, which subcommands inherit; wrong arguments go
// through each command's Args validator, wrapped here. A command that only
// groups others (the root, config) gets a validator that refuses an unknown
// subcommand, and shows its help when called alone: without one, cobra
// shows the help for an unknown subcommand too and exits 0. Every command
// with a --collection flag checks the name before it runs, so that none
// opens a store to be told "invalid argument".
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%w; see '%s --help'", err, cmd.CommandPath())
	})
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.HasSubCommands() && !cmd.Runnable() {
			cmd.Args = unknownCommand
			cmd.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for the root
			cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		} else if validate := cmd.Args; validate != nil {
			cmd.Args = func(cmd *cobra.Command, args []string) error {
				if err := validate(cmd, args); err != nil {
					return usagef("%w; see '%s --help'", err, cmd.CommandPath())
				}
				return nil
			}
		}
		if f := cmd.Flags().Lookup("collection"); f != nil && cmd.Runnable() {
			checkCollectionFlag(cmd, f)
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// checkCollectionFlag makes cmd check the collection name in flag f, when
// one is given, before the rest of its PreRun. An empty name is left to
// the command: for some it means every collection, for others it is
// missing.
func checkCollectionFlag(cmd *cobra.Command, f *pflag.Flag) {
	preE, pre := cmd.PreRunE, cmd.PreRun
	cmd.PreRun = nil // cobra would skip it now that PreRunE is set: called below
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		names := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok { // serve takes --collection many times
			names = sv.GetSlice()
		}
		for _, name := range names {
			if name == "" {
				continue
			}
			if err := checkCollectionName("--"+f.Name, name); err != nil {
				return err
			}
		}
		switch { // as cobra would have: PreRunE, else PreRun
		case preE != nil:
			return preE(cmd, args)
		case pre != nil:
			pre(cmd, args)
		}
		return nil
	}
}

// unknownCommand is the Args validator of a command that only groups
// subcommands: any argument left over is a subcommand that does not exist.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	hint := ""
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usagef("unknown command %q for %q%s; see '%s --help' for the commands", args[0], cmd.CommandPath(), hint, cmd.CommandPath())
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
