package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"

	"github.com/nhs-genomics/results-gateway/adapters"
	"github.com/nhs-genomics/results-gateway/adapters/fhirrest"
	"github.com/nhs-genomics/results-gateway/adapters/filedrop"
	"github.com/nhs-genomics/results-gateway/adapters/goms"
	"github.com/nhs-genomics/results-gateway/adapters/mllp"
	"github.com/nhs-genomics/results-gateway/adapters/webhook"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// registry lists every delivery transport this build supports.
func registry() *adapters.Registry { return registryWith(filedrop.New) }

// checkRegistry is registry for "config check", whose adapters change
// nothing on the machine (a file drop's folder is checked, not created).
func checkRegistry() *adapters.Registry { return registryWith(filedrop.Check) }

func registryWith(filedropFactory adapters.Factory) *adapters.Registry {
	r := &adapters.Registry{}
	r.Register(fhirrest.Kind, fhirrest.New)
	r.Register(filedrop.Kind, filedropFactory)
	r.Register(goms.Kind, goms.New)
	r.Register(mllp.Kind, mllp.New)
	r.Register(webhook.Kind, webhook.New)
	return r
}

// router routes a trust's reports to the destinations that list it.
type router map[string][]gateway.Route

func (r router) Routes(trust string) []gateway.Route { return r[trust] }

// Destination finds a destination's route by name, whichever trust it
// serves: a destination that had an earlier version hears of a new one.
func (r router) Destination(name string) (gateway.Route, bool) {
	for _, routes := range r {
		for _, rt := range routes {
			if rt.Destination == name {
				return rt, true
			}
		}
	}
	return gateway.Route{}, false
}

// destinations builds the adapters and routes; an adapter's configuration
// error names its destination.
func destinations(cfg Config, reg *adapters.Registry) (router, []*gateway.Destination, error) {
	routes := router{}
	var dests []*gateway.Destination
	var errs []error
	for _, d := range cfg.Destinations {
		adapter, err := reg.New(d.Kind, d.Config)
		if err != nil {
			errs = append(errs, fmt.Errorf("destination %s: %w", d.Name, err)) // every destination's problems at once
			continue
		}
		dests = append(dests, &gateway.Destination{
			Name: d.Name, Adapter: adapter, Workers: d.Workers,
			Timeout:     time.Duration(d.TimeoutSeconds) * time.Second,
			MaxAttempts: d.MaxAttempts, MaxAge: time.Duration(d.MaxAgeHours * float64(time.Hour)),
		})
		route := gateway.Route{Destination: d.Name, Format: d.Format}
		switch d.Format {
		case gateway.FormatHL7v2:
			route.Encode = oruEncoder(d.HL7)
		case gateway.FormatNotice:
			route.Encode = noticeEncoder(cfg.PublicBaseURL, cfg.IdentifierBase)
		}
		for _, t := range d.Trusts {
			routes[t] = append(routes[t], route)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(cfg.locate(errs)...)
	}
	return routes, dests, nil
}

// oruEncoder encodes a report as ORU^R01 with a destination's options. The
// control id (MSH-10) is derived from the delivery id: a resend carries the
// same one, so the EPR can recognise it.
//
// When this version moves the result to another patient, the payload first
// withdraws the version the destination holds from the first patient (the same report
// marked entered in error, OBR-25 and OBX-11 W, as HL7 v2 provides), so a
// legacy EPR never keeps it on the wrong record.
func oruEncoder(destination hl7v2.Options) func(r, previous *gateway.Report, rec *gateway.ReportRecord, deliveryID, recipient string) ([]byte, error) {
	return func(r, previous *gateway.Report, rec *gateway.ReportRecord, deliveryID, recipient string) ([]byte, error) {
		o := destination
		if o.ReceivingFacility == "" {
			o.ReceivingFacility = recipient // a copy-to GP's message names the GP, not the ordering trust
		}
		o.MessageTime = time.Now() // made now, as the delivery is queued (a held report's when it is released)
		sum := sha1.Sum([]byte(deliveryID))
		control := "RG" + hex.EncodeToString(sum[:9])
		msg := hl7v2.Encode(r, rec.PDF, control, o)
		if previous == nil || !gateway.PatientChanged(previous, r) {
			return msg, nil
		}
		withdrawn := *previous
		withdrawn.Status = gateway.StatusEnteredInError
		withdrawn.Warnings = []gateway.Warning{{Message: fmt.Sprintf("WITHDRAWN from this patient: version %d of report %s moves the result to another patient", r.Version, r.ID)}}
		retraction := hl7v2.Encode(&withdrawn, nil, control+"W", o)
		return append(retraction, msg...), nil
	}
}

// notice is what a webhook destination receives: which report and version
// is available for which patient, and where to fetch it.
type notice struct {
	Type          string            `json:"type"`
	ReportID      string            `json:"reportId"`
	Version       int               `json:"version"`
	Status        gateway.Status    `json:"status"`
	Issued        string            `json:"issued"`
	OrderingTrust string            `json:"orderingTrust"`
	Patient       map[string]string `json:"patient"`
	Links         map[string]string `json:"links"`
}

func noticeEncoder(publicBase, identifierBase string) func(*gateway.Report, *gateway.Report, *gateway.ReportRecord, string, string) ([]byte, error) {
	if identifierBase == "" {
		identifierBase = fhirr4.DefaultIdentifierBase
	}
	return func(r, _ *gateway.Report, rec *gateway.ReportRecord, _, _ string) ([]byte, error) {
		return json.Marshal(notice{
			Type: "report-available", ReportID: rec.ID, Version: rec.Version, Status: rec.Status, Issued: r.Issued,
			OrderingTrust: rec.TrustODS, Patient: map[string]string{"nhsNumber": r.Patient.NHSNumber},
			Links: map[string]string{
				"fhir": publicBase + "/fhir/DiagnosticReport?identifier=" + url.QueryEscape(identifierBase+"/report|"+rec.ID),
				"pdf":  publicBase + "/v1/reports/" + rec.ID + "/pdf?version=" + strconv.Itoa(rec.Version),
			},
		})
	}
}
