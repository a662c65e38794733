package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/internal/atomicfile"
)

type tripletsOptions struct {
	input     string
	positives int
	negatives int
	out       string
	seed      uint64
}

func newTripletsCmd() *cobra.Command {
	var o tripletsOptions
	cmd := &cobra.Command{
		Use:   "triplets --input DIR --out FILE",
		Short: "Sample a triplet file from a folder of class subfolders",
		Long: `Triplets samples training triplets as the reference sampler does: for every
image, --pos positives from its own class folder and, for each positive,
--neg negatives from other classes. Paths in the file are relative to --input.`,
		Example: `  deeprank triplets --input ./dataset --pos 2 --neg 3 --out triplets.txt`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.input == "" || o.out == "" {
				return usagef("triplets: --input and --out are required")
			}
			if o.positives < 1 || o.negatives < 1 {
				return usagef("triplets: --pos and --neg must be at least 1")
			}
			ds, err := dataset.ScanClasses(o.input)
			if err != nil {
				return err
			}
			ts := ds.SampleTriplets(o.positives, o.negatives, false, rand.New(rand.NewPCG(o.seed, 0)))
			var buf bytes.Buffer
			if err := dataset.WriteTriplets(&buf, ts); err != nil {
				return err
			}
			if err := atomicfile.WriteFile(o.out, buf.Bytes()); err != nil {
				return fmt.Errorf("write %s: %w", o.out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d triplets from %d images in %d classes to %s\n", len(ts), len(ds.Paths), len(ds.Classes), o.out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.input, "input", "", "folder of class subfolders")
	f.IntVar(&o.positives, "pos", 1, "positives per image")
	f.IntVar(&o.negatives, "neg", 1, "negatives per positive")
	f.StringVar(&o.out, "out", "", "triplet file to write")
	f.Uint64Var(&o.seed, "seed", 1, "random seed")
	return cmd
}
