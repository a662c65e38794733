package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:   "show",
		Short: "Print every key's effective value and where it came from",
		Long: `Show prints each configuration key, its value after defaults, the --config
file and DEEPRANK_* environment variables, and its source: default, file or
env. Secrets (store.milvus.password, store.milvus.token) show as "` + config.Redacted + `" when
set and empty when not, never in clear.`,
		Example: `  deeprank config show
  DEEPRANK_QUERY_TOP_K=3 deeprank config show --config my.yaml
  deeprank config show --json`,
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
			config.Redact(values)
			entries := make([]configEntry, 0, len(values))
			for _, k := range config.Keys() {
				e := configEntry{Key: k, Value: values[k], Source: l.Sources[k]}
				if e.Source == config.FromEnv {
					e.Env = config.EnvName(k)
				}
				entries = append(entries, e)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(configShown{File: l.File, Keys: entries})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "key\tvalue\tsource")
			for _, e := range entries {
				v, _ := json.Marshal(e.Value)
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, v, strings.TrimSpace(string(e.Source)+" "+e.Env))
			}
			if l.File != "" {
				fmt.Fprintf(tw, "(file: %s)\n", l.File)
			}
			return tw.Flush()
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON: the file read and every key with its value and source")
	cmd.AddCommand(show)
	return cmd
}

// configShown is what config show --json prints.
type configShown struct {
	File string        `json:"file,omitempty"`
	Keys []configEntry `json:"keys"`
}

// configEntry is one key of config show: its value (secrets redacted),
// where the value came from and, for the environment, the variable.
type configEntry struct {
	Key    string        `json:"key"`
	Value  any           `json:"value"`
	Source config.Source `json:"source"`
	Env    string        `json:"env,omitempty"`
}
