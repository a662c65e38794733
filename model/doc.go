// Package model describes deeprank's network and runs it.
//
// A Spec describes the multi-scale deep-ranking network once (a ConvNet
// backbone, the reference's shallow branches, optional colour features, an
// L2-normalised embedding); Spec.Arch resolves it into layers with shapes
// and Keras 'same' padding, which both engines build from: the trainer's
// gorgonia graph (package trainer) and the fast forward pass here (Net:
// convolutions as implicit matrix products, in Go and Go assembly). A
// Model is a Spec with its weights, normalisation and provenance: what a
// model file holds (Save, Load; checksummed, written atomically).
// ToTensor turns a square image into the network's input layout with the
// model's normalisation.
//
// The package imports no other package of deeprank but internal ones; in
// particular it does not decode images (package imageio does) and does not
// link gorgonia. Its forward pass is checked against values computed
// independently with JAX (testdata/forward_ref.py).
package model
