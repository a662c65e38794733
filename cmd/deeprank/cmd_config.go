package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/config"
)

// configShowLong is the config show command's long help.
const configShowLong = `Show prints each configuration key, its value after defaults, the --config
file and DEEPRANK_* environment variables, and its source: default, file or
env. Secrets (store.milvus.password, store.milvus.token, serve.token) show as
"` + config.Redacted + `" when set and empty when not, never in clear.`

const configShowExample = `  deeprank config show
  DEEPRANK_QUERY_TOP_K=3 deeprank config show --config my.yaml
  deeprank config show --json`

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration",
	}
	var asJSON bool
	show := &cobra.Command{
		Use:     "show",
		Short:   "Print every key's effective value and where it came from",
		Long:    configShowLong,
		Example: configShowExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			entries, err := configEntries(l)
			if err != nil {
				return err
			}
			return printConfig(cmd.OutOrStdout(), l.File, entries, asJSON)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON: the file read and every key with its value and source")
	cmd.AddCommand(show)
	return cmd
}

// configEntries lists every key of l, sorted, with its value (secrets
// redacted) and its source.
func configEntries(l *config.Loaded) ([]configEntry, error) {
	values, err := config.Flatten(l.Config)
	if err != nil {
		return nil, err
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
	return entries, nil
}

// printConfig prints the entries, and the file they were read from, as a
// table of key, value and source or as JSON.
func printConfig(w io.Writer, file string, entries []configEntry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(configShown{File: file, Keys: entries})
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tvalue\tsource")
	for _, e := range entries {
		v, _ := json.Marshal(e.Value)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, v, strings.TrimSpace(string(e.Source)+" "+e.Env))
	}
	if file != "" {
		fmt.Fprintf(tw, "(file: %s)\n", file)
	}
	return tw.Flush()
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
