package defaultmodel

import "testing"

func TestLoad(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// Collections are stamped with this version: it must not change
	// while the file does not, whatever the rule for new model files.
	if v, err := m.Version(); err != nil || v != "77ceecf13fe85169" {
		t.Errorf("version %q (%v), want 77ceecf13fe85169, the SHA-256 of model.drk's spec, normalisation and weights", v, err)
	}
	if m.Provenance.Metrics["val_precision"] <= 0 {
		t.Errorf("the default model carries no held-out metrics: %+v", m.Provenance)
	}
}

func TestCopyThreshold(t *testing.T) {
	d, err := CopyThreshold()
	if err != nil || d <= 0 || d >= 2 {
		t.Errorf("CopyThreshold() = %v, %v; want a distance in (0, 2)", d, err)
	}
}
