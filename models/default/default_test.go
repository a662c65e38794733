package defaultmodel

import "testing"

func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if m.Provenance.Metrics["val_precision"] <= 0 {
		t.Errorf("the default model carries no held-out metrics: %+v", m.Provenance)
	}
}
