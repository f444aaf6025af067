package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// BundleEncoder maps a report to FHIR R4 and marshals it once.
type BundleEncoder interface {
	EncodeBundle(r *Report, pdf []byte) ([]byte, error)
}

// Intake accepts reports: it checks who sent them, renders the PDF, maps to
// FHIR and stores everything in one durable step.
type Intake struct {
	Reports  Reports
	Bundles  BundleEncoder
	Renderer Renderer
	Now      func() time.Time
	Log      *slog.Logger
}

// Accept stores r for who. created is false when the same version was already
// stored (a resend), and the stored record is returned. Errors: EFORBIDDEN
// (not this lab's report), EINVALID, ECONFLICT, or an internal error.
func (in *Intake) Accept(ctx context.Context, who Principal, r *Report, source string) (rec *ReportRecord, created bool, err error) {
	if who.Role != RoleLab || who.ODSCode != r.PerformingLab.ODSCode {
		return nil, false, Errorf(EFORBIDDEN, "this token may only submit reports performed by laboratory %s", who.ODSCode)
	}
	rec, err = in.build(r, source)
	if err != nil {
		return nil, false, err
	}
	stored, created, err := in.Reports.SaveReport(ctx, rec)
	if err != nil {
		return nil, false, err
	}
	if created {
		in.Log.Info("report accepted", "report_id", r.ID, "version", r.Version, "status", r.Status, "source", source, "lab", r.PerformingLab.ODSCode)
	} else {
		in.Log.Info("report resent, already stored", "report_id", r.ID, "version", r.Version)
	}
	return stored, created, nil
}

// Preview maps r as Accept would, without storing anything: the $validate operation.
func (in *Intake) Preview(r *Report) (bundle []byte, err error) {
	rec, err := in.build(r, "preview")
	if err != nil {
		return nil, err
	}
	return rec.Bundle, nil
}

func (in *Intake) build(r *Report, source string) (*ReportRecord, error) {
	if problems := Validate(r); len(problems) > 0 {
		return nil, &Error{Code: EINVALID, Message: "the report is not valid", Problems: problems}
	}
	canonical, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode report %s: %w", r.ID, err)
	}
	sum := sha256.Sum256(canonical)
	var pdf []byte
	if r.PDF != nil {
		pdf = r.PDF.Data // the lab's own PDF is the presentedForm
	} else if pdf, err = in.Renderer.Render(r); err != nil {
		return nil, err
	}
	bundle, err := in.Bundles.EncodeBundle(r, pdf)
	if err != nil {
		return nil, err
	}
	return &ReportRecord{
		ID: r.ID, Version: r.Version, Status: r.Status, Outcome: r.Result.Outcome,
		LabODS: r.PerformingLab.ODSCode, TrustODS: r.OrderingTrust.ODSCode, Source: source,
		Digest: hex.EncodeToString(sum[:]), ReceivedAt: in.Now().UTC(),
		Report: canonical, Bundle: bundle, PDF: pdf,
	}, nil
}
