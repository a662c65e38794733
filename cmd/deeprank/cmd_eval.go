package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/model"
)

// copyPrecision is the precision the copy-detection threshold is
// calibrated for.
const copyPrecision = 0.99

type evalOptions struct {
	model     string // from the model key, which --model sets
	untrained bool
	set       eval.SetSpec
	suite     string
	seed      uint64
	json      bool
	markdown  bool
	// thresholds and atDistance ask for the copy-detection threshold
	// report.
	thresholds bool
	atDistance []float64
	// misses is the file the model rows' missed queries go to.
	misses string
}

// namedReport is one set's report, as printed.
type namedReport struct {
	Name   string       `json:"name"`
	Report *eval.Report `json:"report"`
}

// evalLong is the eval command's long help.
const evalLong = `Eval prints, for the model and for baselines computed in the same run (raw
16x16 pixels, colour histogram, perceptual hash):

  similarity precision  the share of triplets ranked right, D(q,p) < D(q,n)
                        (the paper's metric)
  R@1, R@5, R@10        the share of queries with a relevant image among the K
                        nearest
  mAP                   mean average precision over the ranked gallery

Sets:
  --classes DIR         class subfolders; every image queries all the others
                        (leave-one-out), and one sampled triplet per image
                        gives the precision
  --queries/--gallery   two folders of class subfolders: each query is ranked
                        against the gallery, relevant where the class folder
                        names match (e.g. one emoji vendor against another)
  --triplets FILE       a triplet file: the precision only
  --suite FILE          a YAML list of such sets, all scored in one run:
                          sets:
                            - {name: emoji, queries: q/, gallery: g/}
                            - {name: held-out, triplets: t.txt, root: data/}

--thresholds adds, for each model on each set of queries and a gallery, a
copy-detection threshold report: over every (query, gallery image) pair, a
pair is a copy when their class folders match (a transformed copy and its
original: the copy-detection sets), and is flagged when the Euclidean
distance between their vectors (their learned parts, for a model with a
thumbnail or an aspect value, as 'deeprank dupes' compares them) is at
most a threshold. It prints precision (the share of flagged pairs that
are copies) and recall (the share of copies flagged) at distances 0.05 to 1.5, at each --at-distance, and the largest
distance at which precision is still 0.99: the calibrated threshold that
'deeprank dupes' uses by default for the built-in model.

The model rows are ranked as 'deeprank query' ranks, with its re-ranking of the
nearest hits (query.rerank in the configuration; DEEPRANK_QUERY_RERANK_TOP=0
turns it off) and, with query.variants, a query's variants; the baselines keep
their own order.

--misses FILE writes the model rows' misses to FILE, tab-separated with a
header: each query whose first hit is not relevant, by set and model, with
the place of its first relevant image and the image ranked first, to look
at what the model gets wrong.`

const evalExample = `  deeprank eval --model model.drk --classes data/fashion-mnist/test
  deeprank eval --model model.drk --untrained --suite models/default/eval.yaml --markdown
  deeprank eval --model model.drk --triplets val.txt --root ./dataset --json
  deeprank eval --model model.drk --queries copies/ --gallery originals/ --thresholds --at-distance 0.4`

func newEvalCmd() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:     "eval --model M (--classes DIR | --queries DIR --gallery DIR | --triplets FILE [--root DIR] | --suite FILE)",
		Short:   "Score a model and simple baselines on labelled images or triplets",
		Long:    evalLong,
		Example: evalExample,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	f := cmd.Flags()
	f.String("model", "", "model file; without it, only the baselines")
	nameKeys(cmd, modelFlag)
	f.BoolVar(&o.untrained, "untrained", false, "also score a randomly initialised network of the model's spec")
	f.StringVar(&o.set.Classes, "classes", "", "folder of class subfolders")
	f.StringVar(&o.set.Queries, "queries", "", "folder of class subfolders of queries (with --gallery)")
	f.StringVar(&o.set.Gallery, "gallery", "", "folder of class subfolders to search (with --queries)")
	f.StringVar(&o.set.Triplets, "triplets", "", "triplet file")
	f.StringVar(&o.set.Root, "root", ".", "folder the triplet file's paths are relative to")
	f.IntVar(&o.set.MaxImages, "max-images", 5000, "with --classes, use at most this many images, spread over the folder (0: all)")
	f.StringVar(&o.suite, "suite", "", "YAML file listing several sets")
	f.Uint64Var(&o.seed, "seed", 1, "seed for sampling triplets and the untrained network")
	f.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	f.BoolVar(&o.markdown, "markdown", false, "print markdown tables")
	f.BoolVar(&o.thresholds, "thresholds", false, "add the copy-detection threshold report (precision and recall by distance) on sets of queries and a gallery")
	f.Float64SliceVar(&o.atDistance, "at-distance", nil, "with --thresholds, also report precision and recall at this distance (repeatable)")
	f.StringVar(&o.misses, "misses", "", "write each query the model ranks another image first for to this TSV file")
	return cmd
}

// run scores the models and the baselines on each set and prints the reports.
func (o *evalOptions) run(cmd *cobra.Command) error {
	l, err := loadConfig(cmd, modelFlag)
	if err != nil {
		return err
	}
	// The model rows are re-ranked as query re-ranks, so the re-ranking
	// options are checked as query checks them, before any work.
	if err := l.ValidateRerank(); err != nil {
		return err
	}
	o.model = l.Model
	suite, err := o.sets()
	if err != nil {
		return err
	}
	opts, err := evalModels(*o)
	if err != nil {
		return err
	}
	// The model rows rank as deeprank query does, the query's variants
	// and re-ranking included.
	opts.Rerank, opts.QueryVariants = l.Query.Rerank, l.Query.Variants
	if o.thresholds || len(o.atDistance) > 0 {
		opts.Thresholds = &eval.ThresholdOptions{Target: copyPrecision, At: o.atDistance}
	}
	// The misses file is made first: a path that cannot be written fails
	// before the evaluation rather than after it. Until the misses are
	// written, a failure removes it, so that no empty or partial list is
	// left behind.
	var misses *os.File
	missesWritten := false
	if o.misses != "" {
		if misses, err = os.Create(o.misses); err != nil {
			return fmt.Errorf("eval: --misses: %w", err)
		}
		defer func() {
			if !missesWritten {
				misses.Close()
				os.Remove(o.misses)
			}
		}()
	}
	// The sets of a suite often share a gallery: each image is embedded
	// once.
	opts.Cache = eval.NewCache()
	var reports []namedReport
	for _, spec := range suite.Sets {
		set, err := spec.Build(o.seed)
		if err != nil {
			return err
		}
		rep, err := eval.Run(cmd.Context(), set, opts)
		if err != nil {
			return err
		}
		reports = append(reports, namedReport{spec.Name, rep})
	}
	if misses != nil {
		err := writeMisses(misses, reports)
		if err == nil {
			err = misses.Close()
		}
		if err != nil {
			return fmt.Errorf("eval: --misses: %w", err)
		}
		missesWritten = true
	}
	return printReports(cmd.OutOrStdout(), reports, *o)
}

// writeMisses writes the model rows' missed queries (eval.MethodResult.
// Misses) to f, tab-separated under a header.
func writeMisses(f io.Writer, reports []namedReport) error {
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "set\tmodel\tquery\trank\tnearest")
	for _, r := range reports {
		for _, m := range r.Report.Results {
			for _, q := range m.Misses {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", r.Name, m.Method, q.Query, q.Rank, q.Nearest)
			}
		}
	}
	return w.Flush()
}

// sets are the sets to score: those of --suite, or the one the flags give.
func (o *evalOptions) sets() (*eval.Suite, error) {
	if o.suite == "" {
		if err := o.set.Validate(); err != nil {
			return nil, usagef("eval: give one of --classes, --queries with --gallery, --triplets and --suite")
		}
		return &eval.Suite{Sets: []eval.SetSpec{o.set}}, nil
	}
	if o.set != (eval.SetSpec{Root: o.set.Root, MaxImages: o.set.MaxImages}) {
		return nil, usagef("eval: give either --suite or one set")
	}
	f, err := os.Open(o.suite)
	if err != nil {
		return nil, err
	}
	suite, err := eval.ParseSuite(f, o.suite)
	f.Close()
	if err != nil {
		return nil, usageError{err}
	}
	return suite, nil
}

// evalModels loads the model of --model and, with --untrained, its
// untrained twin.
func evalModels(o evalOptions) (eval.Options, error) {
	var opts eval.Options
	if o.model == "" {
		return opts, nil
	}
	m, err := model.Load(o.model)
	if err != nil {
		return opts, err
	}
	opts.Models = append(opts.Models, eval.NamedModel{Name: "model", Model: m})
	if o.untrained {
		u, err := model.New(m.Spec, m.Normalization)
		if err != nil {
			return opts, err
		}
		u.Initialize(o.seed)
		opts.Models = append(opts.Models, eval.NamedModel{Name: "untrained", Model: u})
	}
	return opts, nil
}

func printReports(w io.Writer, reports []namedReport, o evalOptions) error {
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(reports)
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if o.markdown {
			if r.Name != "" {
				fmt.Fprintf(w, "### %s\n\n", r.Name)
			}
			if err := r.Report.WriteMarkdown(w); err != nil {
				return err
			}
			continue
		}
		if r.Name != "" {
			fmt.Fprintf(w, "== %s\n", r.Name)
		}
		if err := r.Report.WriteTable(w); err != nil {
			return err
		}
	}
	return nil
}
