package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration",
	}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print every key's effective value and where it came from",
		Long: `Show prints each configuration key, its value after defaults, the --config
file and DEEPRANK_* environment variables, and its source: default, file or
env.`,
		Example: `  deeprank config show
  DEEPRANK_QUERY_TOP_K=3 deeprank config show --config my.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			values, err := config.Flatten(l.Config)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "key\tvalue\tsource")
			for _, k := range config.Keys() {
				v, _ := json.Marshal(values[k])
				src := string(l.Sources[k])
				if src == string(config.FromEnv) {
					src += " " + config.EnvName(k)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k, v, src)
			}
			if l.File != "" {
				fmt.Fprintf(tw, "(file: %s)\n", l.File)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(show)
	return cmd
}
