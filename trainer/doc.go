// Package trainer learns a deeprank model from triplets with gorgonia: it
// builds the training graph from the model's Spec, runs the hinge loss
// max(0, g + D(q,p) - D(q,n)) or a contrastive (InfoNCE) loss over each
// batch shard (contrastive.go) with SGD or Adam, samples or reads triplets
// (package dataset), augments images (package imageio), mines negatives,
// scores the held-out data after each epoch with the fast forward pass
// (package embedder), and writes checkpoints, curves and the best model.
//
// Gorgonia is the graph, autodiff and optimiser engine; the graph's
// convolutions and max-pools are this package's own ops (ops_conv.go,
// ops_pool.go), which halve a training step against gorgonia's own and are
// checked against them in the tests. Those ops keep state between runs (their outputs, scratch
// space, the max-pools' argmax), so a graph, like its tape machine, serves
// one goroutine at a time.
//
// It is the only package that imports gorgonia. A run's options, their
// defaults and their validation are in trainer/trainconfig, which does not,
// so that loading a configuration links no training code.
package trainer
