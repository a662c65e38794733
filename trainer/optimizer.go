package trainer

import (
	"math"

	"github.com/deeprank/deeprank/trainer/trainconfig"
)

// optimizer updates weights in place from their gradients. Its whole state
// is in exported fields so that checkpoints can save and restore it (gob).
type optimizer struct {
	Kind     trainconfig.Optimizer
	LR       float64
	Momentum float64
	Nesterov bool
	Decay    float64
	// Step counts updates (Adam's bias correction needs it).
	Step int
	// Velocity (SGD) or first moment (Adam), and second moment (Adam),
	// per parameter name.
	M, V map[string][]float32
}

func newOptimizer(o trainconfig.Options) *optimizer {
	return &optimizer{Kind: o.Optimizer, LR: o.LearningRate, Momentum: o.Momentum, Nesterov: o.Nesterov,
		Decay: o.WeightDecay, M: map[string][]float32{}, V: map[string][]float32{}}
}

// update applies one step to every parameter, at the learning rate scaled
// by lrScale; grads are then zeroed, since gorgonia adds each run's
// gradients to the previous ones.
func (o *optimizer) update(names []string, weights, grads [][]float32, lrScale float64) {
	o.Step++
	for i, name := range names {
		w, g := weights[i], grads[i]
		if o.Decay > 0 && len(w) > 0 && !isBias(name) {
			d := float32(o.Decay)
			for j := range g {
				g[j] += d * w[j]
			}
		}
		m := o.buffer(o.M, name, len(w))
		switch o.Kind {
		case trainconfig.Adam:
			v := o.buffer(o.V, name, len(w))
			const b1, b2, eps = 0.9, 0.999, 1e-8
			lr := lrScale * o.LR * math.Sqrt(1-math.Pow(b2, float64(o.Step))) / (1 - math.Pow(b1, float64(o.Step)))
			for j, gj := range g {
				m[j] = b1*m[j] + (1-b1)*gj
				v[j] = b2*v[j] + (1-b2)*gj*gj
				w[j] -= float32(lr) * m[j] / (float32(math.Sqrt(float64(v[j]))) + eps)
			}
		default: // sgd, as Keras: v = mu*v - lr*g; w += nesterov ? mu*v - lr*g : v
			mu, lr := float32(o.Momentum), float32(lrScale*o.LR)
			for j, gj := range g {
				m[j] = mu*m[j] - lr*gj
				if o.Nesterov {
					w[j] += mu*m[j] - lr*gj
				} else {
					w[j] += m[j]
				}
			}
		}
		clear(g)
	}
}

func (o *optimizer) buffer(set map[string][]float32, name string, n int) []float32 {
	b, ok := set[name]
	if !ok {
		b = make([]float32, n)
		set[name] = b
	}
	return b
}

func isBias(name string) bool { return len(name) > 2 && name[len(name)-2:] == ".b" }

// lrScale is the schedule's factor on the learning rate at progress p, the
// share of the run's steps already taken (0 at the start, below 1 at the end).
func lrScale(schedule trainconfig.Schedule, p float64) float64 {
	if schedule == trainconfig.Cosine {
		return 0.5 * (1 + math.Cos(math.Pi*p))
	}
	return 1
}
