package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"time"
)

// BundleEncoder maps a report to FHIR R4 and marshals it once.
type BundleEncoder interface {
	Encode(r *Report, pdf []byte) (EncodedBundle, error)
}

// EncodedBundle is a report's FHIR Bundle as intake stores it.
type EncodedBundle struct {
	JSON      []byte
	Resources []string // every resource, as "Type/id"
	// PDFAt is where the PDF's base64 string starts in JSON (its opening
	// quote), as the writer put it there; 0 when not known.
	PDFAt int
}

// Intake accepts reports: it checks who sent them, renders the PDF, maps to
// FHIR and stores everything in one durable step.
type Intake struct {
	Reports Reports
	Held    HeldReports // where reports for a trust with no destination wait
	Router  Router
	// History finds which destinations had earlier versions (optional:
	// without it, a new version goes where routing points now).
	History DeliveryHistory
	// Audit records that a re-interpretation follows an earlier report.
	Audit    AuditLog
	Bundles  BundleEncoder
	Renderer Renderer
	// Directory names the tests; an unknown code is a warning (nil: no check).
	Directory TestDirectory
	Now       func() time.Time
	Log       *slog.Logger
	// Enqueued, if set, is told which destinations have new deliveries, so
	// a dispatcher in this process can start at once instead of at its next poll.
	Enqueued func(destinations []string)
	// ClockSkew is how far in the future a report's times may be (DefaultClockSkew when zero).
	ClockSkew time.Duration
	// Alerts is told at once when a report is held for want of a route
	// (the Monitor resolves it when none is held); nil: Log only.
	Alerts *Alerts
}

// Submission says how a report arrived.
type Submission struct {
	Source    string     // "json" or "hl7v2"
	MessageID string     // the sender's message id (HL7: MSH-3|MSH-4|MSH-10), to recognise a resend
	Unmapped  []Unmapped // content the decoder could not map, kept on the record
	// Lenient applies ValidateLenient instead of Validate: only what makes
	// the report unfileable refuses it (HL7 v2 senders). Warnings are what
	// the decoder and that validation noticed, kept on the record.
	Lenient  bool
	Warnings []Warning
	// VolatileIssued says the issue time is the message's own time (the
	// report carried none), which a resend changes: resends are recognised
	// whatever it says.
	VolatileIssued bool
	// Unreadable says the message carried a result none of which could be
	// read: the report is filed with its warnings rather than refused.
	Unreadable bool
	// Audit is the entry recording who created the report, stored with it
	// in one step when it is new (a resend stores nothing, so the caller
	// records that itself).
	Audit *AuditEntry
	// Message is the message log's entry for what arrived (outcome
	// "accepted"), stored with the report in one step when it is new, as
	// Audit is: the log then never misses a stored report, even across a
	// crash, and the sender hears back after one durable write, not two.
	// Intake fills in its report id, and the version in PDFOf. A resend
	// stores nothing: the caller records the message itself, as "resent".
	Message *InboundMessage
}

// Accept stores r for who. created is false when the same version was already
// stored (a resend), and the stored record is returned. A report with
// version 0 (HL7 v2 has no version numbers) gets the next version when its
// content differs from the latest stored, and "final" becomes "amended".
// Errors: EFORBIDDEN (not this lab's report), EINVALID, ECONFLICT,
// EUNAVAILABLE, or an internal error.
func (in *Intake) Accept(ctx context.Context, who Principal, r *Report, sub Submission) (rec *ReportRecord, created bool, err error) {
	if who.Role != RoleLab || who.ODSCode != r.PerformingLab.ODSCode {
		return nil, false, Errorf(EFORBIDDEN, "this sender may only submit reports performed by laboratory %s", who.ODSCode)
	}
	bare := r.Withdraws() && !r.HasResults()
	if r.Version != 0 {
		if bare && sub.Lenient {
			withdrawn, s, resent, err := in.bareWithdrawal(ctx, r, sub)
			if err != nil || resent != nil {
				return resent, false, err
			}
			withdrawn.Version = r.Version
			r, sub = withdrawn, s
		}
		return in.save(ctx, r, sub)
	}
	for try := 0; ; try++ {
		next, s := *r, sub
		if bare {
			// Made afresh on each try: a correction filed meanwhile is what
			// the withdrawal must name.
			withdrawn, ws, resent, err := in.bareWithdrawal(ctx, r, sub)
			if err != nil || resent != nil {
				return resent, false, err
			}
			next, s = *withdrawn, ws
		}
		stored, resend, reused, err := in.assignVersion(ctx, &next, s)
		if err != nil || resend {
			return stored, false, err
		}
		if reused != 0 {
			s.Warnings = append(slices.Clone(s.Warnings), Warning{Path: "version", Source: "MSH[1]-10",
				Message: fmt.Sprintf("this message id was used before for version %d with different content: filed as version %d", reused, next.Version)})
		}
		rec, created, err := in.save(ctx, &next, s)
		if ErrorCode(err) == ECONFLICT && try < 3 {
			continue // another message for this report took the version first
		}
		return rec, created, err
	}
}

// bareWithdrawal is withdrawnContent with its notes added to the
// submission's warnings.
func (in *Intake) bareWithdrawal(ctx context.Context, r *Report, sub Submission) (*Report, Submission, *ReportRecord, error) {
	w, notes, resent, err := in.withdrawnContent(ctx, r, sub)
	if err != nil || resent != nil {
		return nil, sub, resent, err
	}
	sub.Warnings = append(slices.Clone(sub.Warnings), notes...)
	return w, sub, nil, nil
}

// withdrawnContent is what a withdrawal (OBR-25 W, or X for a
// cancellation; a FHIR DiagnosticReport entered in error) that carries no
// results files: the results of the report's latest version that was not
// itself withdrawn, marked withdrawn, so an EPR that filed them learns
// which to take back, not only that something was. Its PDF is made again
// with the banner; the message's own status, issue time, sign-off and
// notes (a reason) are kept. resent is the stored withdrawal this one
// repeats: the same message, or the report withdrawn already with no
// newer version since, so nothing new is filed. A withdrawal naming
// another patient than the results it would withdraw is refused: that is
// a reused or mistaken number, and acting on it would take a valid result
// from the patient who has it.
func (in *Intake) withdrawnContent(ctx context.Context, r *Report, sub Submission) (w *Report, notes []Warning, resent *ReportRecord, err error) {
	versions, err := in.Reports.ReportVersions(ctx, r.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	var source *ReportRecord
	for i := len(versions) - 1; i >= 0; i-- {
		rec, err := in.Reports.ReportVersion(ctx, r.ID, versions[i])
		if err != nil {
			return nil, nil, nil, err
		}
		if rec.LabODS != r.PerformingLab.ODSCode {
			return r, nil, nil, nil // another lab's id: SaveReport refuses it
		}
		withdrawal := rec.Status == StatusEnteredInError || rec.Status == StatusCancelled
		switch {
		case rec.Status == r.Status && sub.MessageID != "" && rec.MessageID == sub.MessageID:
			return nil, nil, rec, nil // this very message, filed before: even if a correction followed it
		case rec.Status == r.Status && i == len(versions)-1:
			return nil, nil, rec, nil // withdrawn already, nothing since
		case !withdrawal && source == nil:
			source = rec // the latest results; earlier versions are still read for the message id
		}
	}
	if source == nil {
		return nil, nil, nil, &Error{Code: EINVALID, Message: "the report is not valid", Problems: []Problem{{Path: "result",
			Message: fmt.Sprintf("%s: the message withdraws report %s, of which the gateway holds no results to withdraw", nothingToFile, r.ID)}}}
	}
	held, err := source.DecodeReport()
	if err != nil {
		return nil, nil, nil, err
	}
	if PatientChanged(held, r) {
		return nil, nil, nil, &Error{Code: EINVALID, Message: "the report is not valid", Problems: []Problem{{Path: "patient",
			Message: fmt.Sprintf("the message withdraws report %s but names another patient than version %d's: check the report number and the patient", r.ID, source.Version)}}}
	}
	copied := *held
	copied.Version, copied.Status, copied.Issued, copied.PDF, copied.Changes = 0, r.Status, r.Issued, nil, nil
	copied.Notes = append(slices.Clone(held.Notes), r.Notes...)
	if len(r.Authorisers) > 0 {
		copied.Authorisers = r.Authorisers
	}
	notes = []Warning{{Path: "result", Message: fmt.Sprintf("the message carries no results: version %d's are filed again as %s", source.Version, r.Status)}}
	return &copied, notes, nil, nil
}

// assignVersion numbers a versionless report: 1 if new; the stored version
// if this is a resend of any stored version (the same content, whatever its
// message id), so a late resend of an original can never overwrite its
// correction; else the next version. reused is the version that had this
// message id with other content (a sender reusing ids), 0 if none.
func (in *Intake) assignVersion(ctx context.Context, r *Report, sub Submission) (stored *ReportRecord, resend bool, reused int, err error) {
	versions, err := in.Reports.ReportVersions(ctx, r.ID)
	if err != nil {
		return nil, false, 0, err
	}
	if len(versions) == 0 {
		r.Version = 1
		return nil, false, 0, nil
	}
	status := r.Status
	released := false // the latest stored version was released as final (or amended since)
	for i := len(versions) - 1; i >= 0; i-- {
		stored, err := in.Reports.ReportVersion(ctx, r.ID, versions[i])
		if err != nil {
			return nil, false, 0, err
		}
		if stored.LabODS != r.PerformingLab.ODSCode {
			break // another lab's id: SaveReport refuses it
		}
		if i == len(versions)-1 {
			released = stored.Status == StatusFinal || stored.Status == StatusAmended || stored.Status == StatusCorrected
		}
		// A final report is filed as final, or as amended when it followed a
		// released version: compare it as the stored one was labelled.
		r.Version, r.Status = stored.Version, status
		if status == StatusFinal && stored.Status == StatusAmended {
			r.Status = StatusAmended
		}
		candidate := *r
		if sub.VolatileIssued { // the message's own time, and the sign-off dated by it
			was := storedIssued(stored)
			candidate.Authorisers = slices.Clone(r.Authorisers) // nil stays nil: the digest tells null from []
			for i := range candidate.Authorisers {
				if candidate.Authorisers[i].AuthorisedAt == r.Issued {
					candidate.Authorisers[i].AuthorisedAt = was
				}
			}
			candidate.Issued = was
		}
		if same, err := in.digest(&candidate); err == nil && same == stored.Digest {
			return stored, true, 0, nil
		}
		if sub.MessageID != "" && stored.MessageID == sub.MessageID && reused == 0 {
			reused = stored.Version
		}
	}
	r.Version = versions[len(versions)-1] + 1
	r.Status = versionStatus(status, released)
	return nil, false, reused, nil
}

// storedIssued is the issue time a stored version was filed with.
func storedIssued(rec *ReportRecord) string {
	var v struct {
		Issued string `json:"issued"`
	}
	json.Unmarshal(rec.Report, &v)
	return v.Issued
}

// versionStatus: a final version following one that was released (final,
// amended or corrected) is an amendment; following a preliminary one, it
// is the final report.
func versionStatus(s Status, followsReleased bool) Status {
	if followsReleased && s == StatusFinal {
		return StatusAmended
	}
	return s
}

// digest fingerprints the lab's report: the changes the gateway states and
// the version and order it finds for the previous report are left out, so
// a resend is recognised whatever the gateway has learnt since.
func (in *Intake) digest(r *Report) (string, error) {
	lab := *r
	lab.Changes = nil
	if p := r.Previous; p != nil { // what the gateway fills in from the stored report is not the lab's either
		lab.Previous = &PreviousReport{ID: p.ID, Relation: p.Relation}
	}
	if d, ok := digestAroundPDF(&lab); ok {
		return d, nil
	}
	return DigestJSON(&lab)
}

// pdfStandIn takes the place of a PDF whose base64 the decoder kept as it
// was received: digestAroundPDF hashes that text in its place. Its
// encoding is a string no report holds by chance.
var pdfStandIn = []byte("\xa7results-gateway: the PDF's own base64 goes here\xa7")

// digestAroundPDF is DigestJSON for a report whose PDF came with its
// base64 as received (Attachment.Encoded): the JSON is made with a
// stand-in for the PDF, and hashed with that text in the stand-in's place
// rather than encoding a PDF of tens of kilobytes again. The bytes hashed
// are DigestJSON's, so the digest is the same. ok is false when it does
// not apply.
func digestAroundPDF(lab *Report) (digest string, ok bool) {
	b, at, ok := marshalWithStandIn(lab)
	if !ok {
		return "", false
	}
	return hashAroundStandIn(b, at, lab.PDF.Encoded), true
}

// marshalWithStandIn is r's JSON with pdfStandIn as its PDF's data, and
// where the stand-in's string is (at its opening quote). ok is false when
// r's PDF has no received base64, or the stand-in is not there once.
func marshalWithStandIn(r *Report) (b []byte, at int, ok bool) {
	if !r.PDF.EncodedIsData() {
		return nil, 0, false
	}
	pdf := *r.PDF
	pdf.Data = pdfStandIn
	copied := *r
	copied.PDF = &pdf
	b, err := json.Marshal(&copied)
	if err != nil {
		return nil, 0, false
	}
	at = bytes.Index(b, quotedStandIn)
	if at < 0 || bytes.Contains(b[at+1:], quotedStandIn) {
		return nil, 0, false
	}
	return b, at, true
}

var quotedStandIn = []byte(`"` + base64.StdEncoding.EncodeToString(pdfStandIn) + `"`)

// hashAroundStandIn is the hex SHA-256 of b with encoded in place of the
// stand-in's base64 (the string at at, its quotes kept).
func hashAroundStandIn(b []byte, at int, encoded []byte) string {
	h := sha256.New()
	h.Write(b[:at+1])
	h.Write(encoded)
	h.Write(b[at+len(quotedStandIn)-1:])
	return hex.EncodeToString(h.Sum(nil))
}

// digestAndStoredJSON makes the digest and the stored report's JSON (its
// PDF's data left out, as withoutPDFData does) from one marshal, where
// they are made from the same report: one that states no changes and
// names no earlier report (the digest leaves those out), with its PDF's
// base64 as received. Most reports are such; for the rest ok is false and
// each is made on its own.
func digestAndStoredJSON(r *Report) (digest string, stored []byte, ok bool) {
	if len(r.Changes) > 0 || r.Previous != nil {
		return "", nil, false
	}
	b, at, ok := marshalWithStandIn(r)
	if !ok {
		return "", nil, false
	}
	// The member "data":"<stand-in>" comes out with its comma, as
	// encoding/json leaves out an empty Data (omitempty).
	key := []byte(`"data":`)
	start, end := at-len(key), at+len(quotedStandIn)
	if start < 1 || !bytes.Equal(b[start:at], key) {
		return "", nil, false
	}
	switch {
	case b[start-1] == ',':
		start--
	case b[start-1] == '{' && b[end] == ',':
		end++
	case b[start-1] == '{' && b[end] == '}':
	default:
		return "", nil, false
	}
	stored = append(append(make([]byte, 0, len(b)-(end-start)), b[:start]...), b[end:]...)
	return hashAroundStandIn(b, at, r.PDF.Encoded), stored, true
}

// DigestJSON is the hex SHA-256 of v's json.Marshal form, hashed as the
// encoder writes it rather than from a copy (a report with its PDF is
// ~100 KB of JSON, made for nothing but this).
func DigestJSON(v any) (string, error) {
	h := &withoutNewline{sha256.New()}
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withoutNewline hashes what json.Encoder writes but the newline it ends
// each value with (it writes a value in one Write), so the sum is that of
// json.Marshal's bytes.
type withoutNewline struct{ hash.Hash }

func (w *withoutNewline) Write(p []byte) (int, error) {
	w.Hash.Write(bytes.TrimSuffix(p, []byte("\n")))
	return len(p), nil
}

func (in *Intake) save(ctx context.Context, r *Report, sub Submission) (rec *ReportRecord, created bool, err error) {
	source := sub.Source
	// The version before r: lineage states what changed since it.
	var previous *Report
	if r.Version > 1 {
		if previous, err = in.previous(ctx, r); err != nil {
			return nil, false, err
		}
	}
	linked, lineageNotes, err := in.lineage(ctx, r, previous)
	if err != nil {
		return nil, false, err
	}
	routes, trustRouted, notes, err := in.routesFor(ctx, r, linked)
	if err != nil {
		return nil, false, err
	}
	sub.Warnings = append(append(append([]Warning{}, sub.Warnings...), lineageNotes...), notes...)
	rec, err = in.build(r, sub, trustRouted)
	if err != nil {
		return nil, false, err
	}
	rec.Unmapped, rec.MessageID = sub.Unmapped, sub.MessageID
	if sub.Audit != nil {
		e := *sub.Audit
		e.Reports = []string{rec.ID}
		rec.Audit = &e
	}
	if sub.Message != nil {
		m := *sub.Message
		m.ReportID = rec.ID
		if m.PDFOf != nil { // the version as numbered here (HL7 v2 sends none)
			m.PDFOf = &VersionRef{ReportID: rec.ID, Version: rec.Version}
		}
		rec.Message = &m
	}
	deliveries, err := in.deliveries(r, rec, routes, rec.ReceivedAt)
	if err != nil {
		return nil, false, err
	}
	stored, created, err := in.Reports.SaveReport(ctx, rec, deliveries)
	if err != nil {
		return nil, false, err
	}
	if created {
		in.linkBack(ctx, r, linked)
	}
	if created && in.Enqueued != nil {
		var names []string
		for _, d := range deliveries {
			names = append(names, d.Destination)
		}
		in.Enqueued(names)
	}
	if created {
		in.Log.Info("report accepted", "report_id", r.ID, "version", r.Version, "status", r.Status, "source", source,
			"lab", r.PerformingLab.ODSCode, "warnings", len(rec.Warnings), "unmapped", len(rec.Unmapped), "held", rec.Held)
		if rec.Held {
			in.alertHeld(rec)
		}
	} else {
		in.Log.Info("report resent, already stored", "report_id", r.ID, "version", r.Version)
	}
	return stored, created, nil
}

// nameTest gives a known test code its official name from the directory,
// and warns about a code the directory does not know (the directory changes
// every year, so an unknown code is never a rejection).
func (in *Intake) nameTest(r *Report) []Warning {
	if in.Directory == nil || r.Test.Code == "" {
		return nil
	}
	name, ok := in.Directory.Lookup(r.Test.Code)
	if !ok {
		return []Warning{{Path: "test.code", Message: fmt.Sprintf("%s is not in the National Genomic Test Directory the gateway knows (%s): check the code",
			r.Test.Code, in.Directory.Version())}}
	}
	r.Test.DirectoryName = name
	return nil
}

// outcomeAgainstVariants warns of a negative result that reports a
// pathogenic or likely pathogenic variant: the PDF would head a finding
// to act on with "NEGATIVE". Which is wrong only the lab can say, so the
// report is filed as sent, with the warning on it.
func outcomeAgainstVariants(r *Report) []Warning {
	if r.Result.Outcome != "negative" {
		return nil
	}
	var out []Warning
	for i, v := range r.Variants {
		if v.Assessment != "" && v.Assessment != "present" {
			continue // a cascade test's familial variant reported absent: rightly negative
		}
		if c := v.Classification.ACMG; c == "pathogenic" || c == "likely-pathogenic" {
			out = append(out, Warning{Path: fmt.Sprintf("variants[%d].classification.acmg", i),
				Message: fmt.Sprintf("the result is negative, but variant %s is classified %s: ask the laboratory which is right", v.ID, c)})
		}
	}
	return out
}

// alertHeld raises the trust's unrouted alert (once while it is open), so
// an operator adds the route; GET /v1/held lists the held reports.
func (in *Intake) alertHeld(rec *ReportRecord) {
	alerts := in.Alerts
	if alerts == nil {
		alerts = &Alerts{Log: in.Log}
	}
	alerts.Raise("unrouted/"+rec.TrustODS, "reports are held: no destination is configured for their trust",
		"trust", rec.TrustODS, "oldest_report_id", rec.ID)
}

// previous loads the stored version before r, nil if there is none.
func (in *Intake) previous(ctx context.Context, r *Report) (*Report, error) {
	rec, err := in.Reports.ReportVersion(ctx, r.ID, r.Version-1)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rec.DecodeReport()
}

// Preview maps r as Accept would, without storing anything: the $validate operation.
func (in *Intake) Preview(r *Report) (bundle []byte, err error) {
	rec, err := in.build(r, Submission{Source: "preview"}, true)
	if err != nil {
		return nil, err
	}
	return rec.Bundle, nil
}

// deliveries encodes one delivery per route: the payload in the
// destination's format, so delivering never re-encodes anything. A route
// routesFor marked to withdraw gets the version it holds withdrawn (it holds the result for a patient r is not
// about) and nothing of r.
func (in *Intake) deliveries(r *Report, rec *ReportRecord, routes []addressed, at time.Time) ([]*Delivery, error) {
	out := make([]*Delivery, 0, len(routes))
	for _, rt := range routes {
		id := DeliveryID(rec.ID, rec.Version, rt.Destination)
		if rt.withdraw != nil {
			// Its own id: should the destination come to serve a recipient of
			// this version (a held report's trust routed to it), the version
			// itself is queued there under the plain one.
			id += "~withdrawal"
		}
		payload, of := rec.Bundle, PayloadBundle
		switch {
		case rt.withdraw != nil:
			var err error
			if payload, err = in.withdrawal(rt.withdraw, r, rec, rt, id); err != nil {
				return nil, fmt.Errorf("encode the withdrawal of report %s for %s: %w", rec.ID, rt.Destination, err)
			}
			of = ""
		case rt.Encode != nil:
			// What the destination holds, if anything, is what a move
			// withdraws there: never a version it was not sent.
			var err error
			if payload, err = rt.Encode(r, rt.holds, rec, id, rt.Recipient); err != nil {
				return nil, fmt.Errorf("encode report %s for %s: %w", rec.ID, rt.Destination, err)
			}
			of = ""
		case rt.Format == FormatPDF:
			payload, of = rec.PDF, PayloadPDF
		}
		out = append(out, &Delivery{
			ID: id, ReportID: rec.ID, Version: rec.Version, PayloadOf: of, Recipient: rt.Recipient, Withdrawal: rt.withdraw != nil,
			Destination: rt.Destination, ContentType: Formats[rt.Format], Payload: payload,
			State: DeliveryPending, CreatedAt: at, UpdatedAt: at, NextAttemptAt: at,
		})
	}
	return out, nil
}

// withdrawal is what a destination gets when r moves the result away from
// the patient it holds it for: the version it holds (held), marked entered
// in error and saying why, in the destination's format.
func (in *Intake) withdrawal(held, r *Report, rec *ReportRecord, rt addressed, deliveryID string) ([]byte, error) {
	w := *held
	w.Status = StatusEnteredInError
	w.PDF = nil
	w.Warnings = []Warning{{Message: fmt.Sprintf("WITHDRAWN from this patient: version %d of report %s moves the result to another patient", r.Version, r.ID)}}
	if rt.Encode != nil {
		// The record as it was for that patient: no newer PDF, the earlier version and trust.
		old := *rec
		old.PDF, old.Bundle, old.Version, old.Status, old.TrustODS = nil, nil, held.Version, StatusEnteredInError, held.OrderingTrust.ODSCode
		return rt.Encode(&w, nil, &old, deliveryID, rt.Recipient)
	}
	pdf, _, err := in.Renderer.Render(&w)
	if err != nil || rt.Format == FormatPDF {
		return pdf, err
	}
	bundle, err := in.Bundles.Encode(&w, pdf)
	return bundle.JSON, err
}

// build validates and maps r. trustRouted says the ordering trust has a
// destination; without one the report is held until it has.
func (in *Intake) build(r *Report, sub Submission, trustRouted bool) (*ReportRecord, error) {
	var problems []Problem
	if sub.Lenient {
		problems, _ = ValidateLenient(r) // the caller has the warnings already, located in its message
		if sub.Unreadable {
			problems, _ = FileUnreadable(problems)
		}
	} else {
		problems = Validate(r)
	}
	skew := in.ClockSkew
	if skew == 0 {
		skew = DefaultClockSkew
	}
	problems = append(problems, FutureTimes(r, in.Now(), skew)...)
	if len(problems) > 0 {
		return nil, &Error{Code: EINVALID, Message: "the report is not valid", Problems: problems}
	}
	r.Warnings = append(append(append([]Warning{}, sub.Warnings...), in.nameTest(r)...), outcomeAgainstVariants(r)...)
	digest, canonical, shared := digestAndStoredJSON(r)
	var err error
	if !shared {
		if digest, err = in.digest(r); err != nil {
			return nil, fmt.Errorf("encode report %s: %w", r.ID, err)
		}
	}
	var pdf []byte
	if r.PDF != nil {
		pdf = r.PDF.Data // the lab's own PDF is the presentedForm
		if !shared {
			if canonical, err = withoutPDFData(r); err != nil { // stored once, as the record's PDF
				return nil, fmt.Errorf("encode report %s: %w", r.ID, err)
			}
		}
	} else {
		if canonical, err = json.Marshal(r); err != nil {
			return nil, fmt.Errorf("encode report %s: %w", r.ID, err)
		}
		var unprintable []Warning
		if pdf, unprintable, err = in.Renderer.Render(r); err != nil {
			return nil, err
		}
		r.Warnings = append(append([]Warning{}, r.Warnings...), unprintable...)
	}
	bundle, err := in.Bundles.Encode(r, pdf)
	if err != nil {
		return nil, err
	}
	issued, _ := time.Parse(time.RFC3339, r.Issued)
	var effective, sampleReceived time.Time
	if len(r.Specimens) > 0 {
		effective, _ = ParseTime(r.Specimens[0].Collected)
	}
	for _, sp := range r.Specimens { // the earliest receipt starts the lab's clock
		if t, ok := ParseTime(sp.Received); ok && (sampleReceived.IsZero() || t.Before(sampleReceived)) {
			sampleReceived = t
		}
	}
	return &ReportRecord{
		ID: r.ID, Version: r.Version, Status: r.Status, Outcome: r.Result.Outcome,
		LabODS: r.PerformingLab.ODSCode, TrustODS: r.OrderingTrust.ODSCode, CopyTo: copyTo(r), Source: sub.Source,
		Warnings: r.Warnings, Held: !trustRouted,
		Digest: digest, ReceivedAt: in.Now().UTC(),
		NHSNumber: r.Patient.NHSNumber, TestCode: r.Test.Code, Kind: r.Kind, Issued: issued.UTC(), Effective: effective.UTC(), SampleReceived: sampleReceived.UTC(), Resources: bundle.Resources,
		Report: canonical, Bundle: bundle.JSON, BundlePDFAt: bundle.PDFAt, PDF: pdf,
	}, nil
}

func copyTo(r *Report) []string {
	if rs := r.Recipients(); len(rs) > 1 {
		return rs[1:]
	}
	return nil
}
