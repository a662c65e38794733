package main

import (
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/eval"
	"github.com/deeprank/deeprank/model"
)

func newDistanceCmd() *cobra.Command {
	var image1, image2 string
	cmd := &cobra.Command{
		Use:     "distance --model M --image1 A --image2 B",
		Short:   "Print the Euclidean distance between two images' embeddings",
		Long:    `Distance embeds two images with a model and prints the Euclidean distance between the embeddings: 0 for the same image, at most 2 (embeddings have unit length, but for a model's aspect value, which adds the difference of the two images' shapes).`,
		Example: `  deeprank distance --model model.drk --image1 a.jpg --image2 b.jpg`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := loadConfig(cmd, modelFlag)
			if err != nil {
				return err
			}
			if l.Model == "" || image1 == "" || image2 == "" {
				return usagef("distance: --model%s, --image1 and --image2 are required", keyNote("model"))
			}
			m, err := model.Load(l.Model)
			if err != nil {
				return err
			}
			e, err := embedder.New(m, nil)
			if err != nil {
				return err
			}
			res, err := e.EmbedFiles(cmd.Context(), []string{image1, image2})
			if err != nil {
				return err
			}
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
			}
			d := math.Sqrt(float64(eval.SquaredDistance(res[0].Vector, res[1].Vector)))
			fmt.Fprintf(cmd.OutOrStdout(), "%.6f\n", d)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("model", "", "model file")
	nameKeys(cmd, modelFlag)
	f.StringVar(&image1, "image1", "", "first image")
	f.StringVar(&image2, "image2", "", "second image")
	return cmd
}
