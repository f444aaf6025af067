package main

import (
	"fmt"
	"time"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/adapters/filedrop"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// registry lists every delivery transport this build supports.
func registry() *adapters.Registry {
	r := &adapters.Registry{}
	r.Register(fhirrest.Kind, fhirrest.New)
	r.Register(filedrop.Kind, filedrop.New)
	return r
}

// router routes a trust's reports to the destinations that list it.
type router map[string][]gateway.Route

func (r router) Routes(trust string) []gateway.Route { return r[trust] }

// destinations builds the adapters and routes; an adapter's configuration
// error names its destination.
func destinations(cfg Config, reg *adapters.Registry) (router, []*gateway.Destination, error) {
	routes := router{}
	var dests []*gateway.Destination
	for _, d := range cfg.Destinations {
		adapter, err := reg.New(d.Kind, d.Config)
		if err != nil {
			return nil, nil, fmt.Errorf("destination %s: %w", d.Name, err)
		}
		dests = append(dests, &gateway.Destination{
			Name: d.Name, Adapter: adapter, Workers: d.Workers,
			Timeout:     time.Duration(d.TimeoutSeconds) * time.Second,
			MaxAttempts: d.MaxAttempts, MaxAge: time.Duration(d.MaxAgeHours * float64(time.Hour)),
		})
		for _, t := range d.Trusts {
			routes[t] = append(routes[t], gateway.Route{Destination: d.Name, Format: d.Format})
		}
	}
	return routes, dests, nil
}
