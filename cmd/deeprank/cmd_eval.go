package main

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/dataset"
	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/model"
)

type evalOptions struct {
	model     string
	untrained bool
	classes   string
	triplets  string
	root      string
	maxImages int
	seed      uint64
	json      bool
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:   "eval --model M (--classes DIR | --triplets FILE [--root DIR])",
		Short: "Score a model and simple baselines on labelled images or triplets",
		Long: `Eval prints, for the model and for baselines computed in the same run (raw
16x16 pixels, colour histogram, perceptual hash):

  similarity precision  the share of triplets ranked right, D(q,p) < D(q,n)
                        (the paper's metric)
  R@1, R@5, R@10        the share of queries with an image of their class among
                        the K nearest others (labelled folders only)
  mAP                   mean average precision over the ranked gallery

With --classes, every image queries all the others (leave-one-out) and one
triplet per image is sampled for the precision. With --triplets, only the
precision is computed.`,
		Example: `  deeprank eval --model model.drk --classes data/fashion-mnist/test
  deeprank eval --model model.drk --triplets val.txt --root ./dataset --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (o.classes == "") == (o.triplets == "") {
				return usagef("eval: give one of --classes and --triplets")
			}
			var set eval.Set
			if o.classes != "" {
				ds, err := dataset.ScanClasses(o.classes)
				if err != nil {
					return err
				}
				if o.maxImages > 0 && len(ds.Paths) > o.maxImages {
					ds = spread(ds, o.maxImages)
				}
				set = eval.Set{Root: ds.Root, Paths: ds.Paths, Labels: ds.Labels,
					Triplets: ds.SampleTriplets(1, 1, false, rand.New(rand.NewPCG(o.seed, 0)))}
			} else {
				ts, err := dataset.ReadTripletFile(o.triplets, o.root)
				if err != nil {
					return err
				}
				set = eval.Set{Root: o.root, Triplets: ts}
			}
			var opts eval.Options
			if o.model != "" {
				m, err := model.Load(o.model)
				if err != nil {
					return err
				}
				opts.Models = append(opts.Models, eval.NamedModel{Name: "model", Model: m})
				if o.untrained {
					u, err := model.New(m.Spec, m.Normalization)
					if err != nil {
						return err
					}
					u.Initialize(o.seed)
					opts.Models = append(opts.Models, eval.NamedModel{Name: "untrained", Model: u})
				}
			}
			rep, err := eval.Run(cmd.Context(), set, opts)
			if err != nil {
				return err
			}
			if o.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model file (without it, only the baselines)")
	f.BoolVar(&o.untrained, "untrained", false, "also score a randomly initialised network of the model's spec")
	f.StringVar(&o.classes, "classes", "", "folder of class subfolders")
	f.StringVar(&o.triplets, "triplets", "", "triplet file")
	f.StringVar(&o.root, "root", ".", "folder the triplet file's paths are relative to")
	f.IntVar(&o.maxImages, "max-images", 5000, "with --classes, use at most this many images, spread over the folder (0: all)")
	f.Uint64Var(&o.seed, "seed", 1, "seed for sampling triplets and the untrained network")
	f.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	return cmd
}

// spread keeps n images taken evenly over the set, so every class stays.
func spread(ds *dataset.Labelled, n int) *dataset.Labelled {
	out := &dataset.Labelled{Root: ds.Root, Classes: ds.Classes}
	for i := range n {
		j := i * len(ds.Paths) / n
		out.Paths = append(out.Paths, ds.Paths[j])
		out.Labels = append(out.Labels, ds.Labels[j])
	}
	return out
}
