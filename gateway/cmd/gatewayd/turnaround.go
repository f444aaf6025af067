package main

import (
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/testdirectory"
)

// targets adapts the test directory's turnaround categories to the domain.
type targets struct{ *testdirectory.Targets }

func (t targets) TargetFor(code string) (gateway.TurnaroundTarget, bool) {
	c, basis, ok := t.Target(code)
	return gateway.TurnaroundTarget{Days: c.Days, Category: c.Name, Basis: basis}, ok
}

func newTargets(dir *testdirectory.Directory, overrides map[string]int) (gateway.TurnaroundTargets, error) {
	t, err := testdirectory.NewTargets(dir, overrides)
	if err != nil {
		return nil, err
	}
	return targets{t}, nil
}
