package gateway_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/gateway/boltstore"
	"github.com/nhs-genomics/results-gateway/gateway/pdf"
	"github.com/nhs-genomics/results-gateway/internal/peers"
	"github.com/nhs-genomics/results-gateway/mappers/fhirr4"
	"github.com/nhs-genomics/results-gateway/mappers/labjson"
)

// trustRoutes routes each trust (by ODS code) to destinations named after
// it; a trust missing from the map has none.
type trustRoutes map[string][]string

func (t trustRoutes) Routes(trust string) []gateway.Route {
	var out []gateway.Route
	for _, d := range t[trust] {
		out = append(out, gateway.Route{Destination: d, Format: gateway.FormatFHIRBundle})
	}
	return out
}

func (t trustRoutes) Destination(name string) (gateway.Route, bool) {
	for _, ds := range t {
		if slices.Contains(ds, name) {
			return gateway.Route{Destination: name, Format: gateway.FormatFHIRBundle}, true
		}
	}
	return gateway.Route{}, false
}

type lifecycleEnv struct {
	store *boltstore.Store
	in    *gateway.Intake
}

func newLifecycle(t *testing.T, routes trustRoutes) *lifecycleEnv {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mapper, _ := fhirr4.New("")
	return &lifecycleEnv{store, &gateway.Intake{Reports: store, Held: store, Router: routes, History: store, Audit: store, Bundles: mapper,
		Renderer: pdf.Renderer{}, Now: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }, Log: slog.New(slog.DiscardHandler)}}
}

func (e *lifecycleEnv) accept(t *testing.T, r *gateway.Report) (*gateway.ReportRecord, bool) {
	t.Helper()
	rec, created, err := e.in.Accept(context.Background(), gateway.Principal{Role: gateway.RoleLab, ODSCode: r.PerformingLab.ODSCode}, r, gateway.Submission{Source: "json", Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return rec, created
}

func (e *lifecycleEnv) destinations(t *testing.T, id string) []string {
	t.Helper()
	ds, err := e.store.Deliveries(context.Background(), gateway.DeliveryFilter{ReportID: id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.Destination)
	}
	slices.Sort(out)
	return out
}

func report(t *testing.T, name string) *gateway.Report {
	t.Helper()
	r, err := labjson.Decode(fixtures.Report(name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// acceptFirst files version 1 of the negative-wgs fixture and returns its
// patient's NHS number.
func (e *lifecycleEnv) acceptFirst(t *testing.T) string {
	t.Helper()
	v1 := report(t, "negative-wgs")
	e.accept(t, v1)
	return v1.Patient.NHSNumber
}

// movedTo9990001316 is version 2 of the negative-wgs fixture, a
// correction that moves the result to another patient.
func movedTo9990001316(t *testing.T) *gateway.Report {
	v2 := report(t, "negative-wgs")
	v2.Version, v2.Status = 2, gateway.StatusCorrected
	v2.Patient.NHSNumber, v2.Patient.MRN = "9990001316", "MRN01316"
	return v2
}

func hasWarning(rec *gateway.ReportRecord, text string) bool {
	return slices.ContainsFunc(rec.Warnings, func(w gateway.Warning) bool { return strings.Contains(w.Message, text) })
}

// A report names as previous one it has no business with: another lab's,
// another patient's, or one never stored. It is filed, unlinked, with a
// warning, and nothing goes to that report's recipients.
func TestPreviousReportMustBeTheSameLabsAndPatients(t *testing.T) {
	for name, change := range map[string]func(vus *gateway.Report){
		"another patient": func(vus *gateway.Report) { vus.Patient.NHSNumber = "9990000042" },
		"another lab":     func(vus *gateway.Report) { vus.PerformingLab.ODSCode = "7A1X0" },
	} {
		t.Run(name, func(t *testing.T) {
			e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}, "RBS": {"rbs"}})
			vus := report(t, "vus-inconclusive")
			vus.CopyTo = nil
			vus.OrderingTrust.ODSCode = "RBS"
			change(vus)
			e.accept(t, vus)
			rec, _ := e.accept(t, report(t, "reinterpretation-likely-pathogenic"))
			if got := e.destinations(t, rec.ID); !slices.Equal(got, []string{"r0a"}) {
				t.Errorf("destinations %v: the other report's trust was sent this one", got)
			}
			if !hasWarning(rec, "not linked") || gateway.NotLinked(rec.Warnings) == "" {
				t.Errorf("no warning about the link: %+v", rec.Warnings)
			}
			back, _ := rec.DecodeReport()
			if len(back.Changes) != 0 {
				t.Errorf("changes stated against an unlinked report: %+v", back.Changes)
			}
		})
	}
	// A previous report with no id at all is refused, even leniently.
	e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}})
	r := report(t, "reinterpretation-likely-pathogenic")
	r.Previous.ID = ""
	if _, _, err := e.in.Accept(context.Background(), gateway.Principal{Role: gateway.RoleLab, ODSCode: "699X0"}, r, gateway.Submission{Source: "fhir", Lenient: true}); gateway.ErrorCode(err) != gateway.EINVALID {
		t.Errorf("previous without an id: %v, want EINVALID", err)
	}
}

// A resend of a re-interpretation is a resend, however much the gateway
// filled in of the previous report since (its version, its order), also
// for a versionless (HL7 v2) sender; changes stated are not the lab's.
func TestResendOfAReinterpretationIsAResend(t *testing.T) {
	e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}, "A81001": {"gp"}})
	e.accept(t, report(t, "vus-inconclusive"))
	for _, version := range []int{1, 0} {
		first := report(t, "reinterpretation-likely-pathogenic")
		first.Version, first.Previous.Version = version, 0
		rec, _ := e.accept(t, first)
		again := report(t, "reinterpretation-likely-pathogenic")
		again.Version, again.Previous.Version = version, 0
		if stored, created := e.accept(t, again); created || stored.Version != rec.Version {
			t.Errorf("version %d: the resend was filed anew as version %d", version, stored.Version)
		}
	}
}

// A report whose ordering trust has no destination is held for it even
// while its copies go to other recipients; once the trust has one, only
// the trust's destination gets it.
func TestHeldForTheTrustWhileCopiesGo(t *testing.T) {
	routes := trustRoutes{"A81001": {"gp"}}
	e := newLifecycle(t, routes)
	rec, _ := e.accept(t, report(t, "vus-inconclusive"))
	if got := e.destinations(t, rec.ID); !slices.Equal(got, []string{"gp"}) {
		t.Fatalf("destinations %v", got)
	}
	held, err := e.store.HeldReports(context.Background(), 0)
	if err != nil || len(held) != 1 || held[0].ID != rec.ID {
		t.Fatalf("held: %v %v", held, err)
	}
	routes["R0A"] = []string{"r0a"}
	routes["A81001"] = []string{"gp", "r0a"} // a destination serving both: not queued twice
	// Released at start-up by a new process, which never raised the held
	// alert itself: it resolves it all the same.
	rec2 := &recorded{}
	e.in.Alerts = &gateway.Alerts{Log: slog.New(slog.DiscardHandler), Notifier: rec2}
	if n, err := e.in.RouteHeld(context.Background()); err != nil || n != 1 {
		t.Fatalf("released %d: %v", n, err)
	}
	if got := rec2.take(); got != "-unrouted/R0A" {
		t.Errorf("alerts on release: %q, want the held alert resolved", got)
	}
	if got := e.destinations(t, rec.ID); !slices.Equal(got, []string{"gp", "r0a"}) {
		t.Errorf("after release: %v", got)
	}
}

// Everyone who had, or is still to get, the earlier report hears of the
// re-interpretation: a destination whose delivery of it still waits too.
func TestReinterpretationReachesWaitingDestinations(t *testing.T) {
	routes := trustRoutes{"R0A": {"r0a-old"}, "A81001": {"gp"}}
	e := newLifecycle(t, routes)
	e.accept(t, report(t, "vus-inconclusive")) // never delivered: r0a-old still waits
	routes["R0A"] = []string{"r0a-new"}
	routes["RXX"] = []string{"r0a-old"}
	rec, _ := e.accept(t, report(t, "reinterpretation-likely-pathogenic"))
	if got := e.destinations(t, rec.ID); !slices.Equal(got, []string{"gp", "r0a-new", "r0a-old"}) {
		t.Errorf("destinations %v", got)
	}
	back, _ := rec.DecodeReport()
	if len(back.Changes) != 1 || back.Changes[0].From != "uncertain-significance" || back.Changes[0].To != "likely-pathogenic" {
		t.Errorf("changes %+v", back.Changes)
	}
}

// A correction that moves a result to another trust's patient: the first
// trust's destination gets the earlier version withdrawn, never the other
// patient's report; the second trust's destination gets the report.
func TestCorrectionForAnotherTrustsPatientWithdrawsOnly(t *testing.T) {
	e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}, "RBS": {"rbs"}})
	first := e.acceptFirst(t)
	v2 := movedTo9990001316(t)
	v2.OrderingTrust = gateway.Organisation{ODSCode: "RBS"}
	rec, _ := e.accept(t, v2)
	ctx := context.Background()
	for dest, want := range map[string]struct {
		has, lacks []string
	}{
		"r0a": {has: []string{first, `"status":"entered-in-error"`, "WITHDRAWN from this patient"}, lacks: []string{"9990001316"}},
		"rbs": {has: []string{"9990001316", `"status":"corrected"`}, lacks: []string{first}},
	} {
		id := gateway.DeliveryID(rec.ID, 2, dest)
		if dest == "r0a" {
			id += "~withdrawal"
		}
		d, err := e.store.Delivery(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
		for _, s := range want.has {
			if !strings.Contains(string(d.Payload), s) {
				t.Errorf("%s's payload lacks %s", dest, s)
			}
		}
		for _, s := range want.lacks {
			if strings.Contains(string(d.Payload), s) {
				t.Errorf("%s's payload holds %s", dest, s)
			}
		}
	}
	// A further correction for the same patient: the first trust, told
	// already, hears nothing of it; the second trust gets it.
	v3 := report(t, "negative-wgs")
	v3.Version, v3.Status = 3, gateway.StatusCorrected
	v3.Patient.NHSNumber, v3.Patient.MRN = "9990001316", "MRN01316"
	v3.OrderingTrust = gateway.Organisation{ODSCode: "RBS"}
	v3.Result.Conclusion += " Corrected again."
	rec, _ = e.accept(t, v3)
	var got []string
	ds, _ := e.store.Deliveries(ctx, gateway.DeliveryFilter{ReportID: rec.ID})
	for _, d := range ds {
		if d.Version == 3 {
			got = append(got, d.Destination)
		}
	}
	if slices.Sort(got); !slices.Equal(got, []string{"rbs"}) {
		t.Errorf("version 3 went to %v, want rbs only", got)
	}
}

// encodingRoutes are trustRoutes whose destinations encode their own
// payload, as HL7 v2 ones do: it names the report's patient and the
// previous version's the encoder was given.
type encodingRoutes struct{ trustRoutes }

func encodeNames(r, previous *gateway.Report, _ *gateway.ReportRecord, _, _ string) ([]byte, error) {
	prev := ""
	if previous != nil {
		prev = previous.Patient.NHSNumber
	}
	return []byte("patient " + r.Patient.NHSNumber + " " + string(r.Status) + "; previous " + prev), nil
}

func (e encodingRoutes) Routes(trust string) []gateway.Route {
	out := e.trustRoutes.Routes(trust)
	for i := range out {
		out[i].Encode = encodeNames
	}
	return out
}

func (e encodingRoutes) Destination(name string) (gateway.Route, bool) {
	rt, ok := e.trustRoutes.Destination(name)
	rt.Encode = encodeNames
	return rt, ok
}

// Moved to another trust's patient and back: the first trust's destination
// gets the withdrawal, then the report again, never anything of the other
// patient; the other trust's gets its version, then its withdrawal.
func TestCorrectionMovedAwayAndBack(t *testing.T) {
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mapper, _ := fhirr4.New("")
	in := &gateway.Intake{Reports: store, Held: store, Router: encodingRoutes{trustRoutes{"R0A": {"r0a"}, "RBS": {"rbs"}}}, History: store,
		Audit: store, Bundles: mapper, Renderer: pdf.Renderer{}, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	e := &lifecycleEnv{store, in}
	first, other := "9990000026", "9990001316"
	for v, c := range []struct{ trust, nhs string }{{"R0A", first}, {"RBS", other}, {"R0A", first}} {
		r := report(t, "negative-wgs")
		r.Version, r.OrderingTrust, r.Patient.NHSNumber = v+1, gateway.Organisation{ODSCode: c.trust}, c.nhs
		if v > 0 {
			r.Status = gateway.StatusCorrected
			r.Result.Conclusion += strings.Repeat(" Corrected.", v)
		}
		e.accept(t, r)
	}
	ctx := context.Background()
	for id, want := range map[string]string{
		"NWGLH-2026-000102~v2~r0a~withdrawal": "patient " + first + " entered-in-error; previous ",
		"NWGLH-2026-000102~v3~r0a":            "patient " + first + " corrected; previous ",
		"NWGLH-2026-000102~v2~rbs":            "patient " + other + " corrected; previous ", // it never held the first patient's
		"NWGLH-2026-000102~v3~rbs~withdrawal": "patient " + other + " entered-in-error; previous ",
	} {
		d, err := store.Delivery(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if string(d.Payload) != want {
			t.Errorf("%s: %q, want %q", id, d.Payload, want)
		}
	}
}

// A re-interpretation naming a version of a report that a later correction
// moved to another trust's patient goes to the first patient's recipients,
// not to the destination that holds the report for the other patient. And
// a withdrawal an operator cancelled leaves the destination holding the
// result, so the next move withdraws it again.
func TestHistoryFollowsThePatientEachDestinationHolds(t *testing.T) {
	e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}, "RBS": {"rbs"}, "A81001": {"gp"}})
	ctx := context.Background()
	v1 := report(t, "vus-inconclusive") // for 9990000034 at R0A, copied to GP A81001
	e.accept(t, v1)
	v2 := report(t, "vus-inconclusive")
	v2.Version, v2.Status = 2, gateway.StatusCorrected
	v2.Patient.NHSNumber, v2.Patient.MRN = "9990001316", "MRN01316"
	v2.OrderingTrust, v2.CopyTo = gateway.Organisation{ODSCode: "RBS"}, nil
	e.accept(t, v2)
	ri := report(t, "reinterpretation-likely-pathogenic") // names NWGLH-2026-000103 version 1, for 9990000034
	rec, _ := e.accept(t, ri)
	if got := e.destinations(t, rec.ID); !slices.Equal(got, []string{"gp", "r0a"}) {
		t.Errorf("the re-interpretation went to %v, want gp and r0a (not rbs, which holds the report for another patient)", got)
	}

	// The GP's withdrawal of v2 is cancelled: it still holds v1.
	if err := e.store.Cancel(ctx, gateway.DeliveryID(v1.ID, 2, "gp")+"~withdrawal", time.Now(), "ops"); err != nil {
		t.Fatal(err)
	}
	v3 := report(t, "vus-inconclusive")
	v3.Version, v3.Status = 3, gateway.StatusCorrected
	v3.Patient.NHSNumber, v3.Patient.MRN = "9990001316", "MRN01316"
	v3.OrderingTrust, v3.CopyTo = gateway.Organisation{ODSCode: "RBS"}, nil
	v3.Result.Conclusion += " Corrected again."
	e.accept(t, v3)
	d, err := e.store.Delivery(ctx, gateway.DeliveryID(v1.ID, 3, "gp")+"~withdrawal")
	if err != nil || !d.Withdrawal || strings.Contains(string(d.Payload), "9990001316") {
		t.Errorf("the GP, still holding v1, was not sent its withdrawal of version 3: %v %+v", err, d)
	}
	if ds, _ := e.store.Deliveries(ctx, gateway.DeliveryFilter{ReportID: v1.ID, Destination: "r0a"}); len(ds) != 2 { // v1, the withdrawal
		t.Errorf("r0a, told of the withdrawal, has %d deliveries of the report, want 2 (nothing of version 3)", len(ds))
	}
}

// A destination that never held the report gets no withdrawal of another
// patient's version in front of its own (a copy-to added with the move),
// and a held report released to a destination that was sent a withdrawal
// of this version is queued there all the same.
func TestNoWithdrawalOfWhatADestinationNeverHeld(t *testing.T) {
	routes := trustRoutes{"R0A": {"r0a"}, "A81001": {"gp"}}
	store, err := boltstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mapper, _ := fhirr4.New("")
	in := &gateway.Intake{Reports: store, Held: store, Router: encodingRoutes{routes}, History: store,
		Audit: store, Bundles: mapper, Renderer: pdf.Renderer{}, Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	e := &lifecycleEnv{store, in}
	v1 := report(t, "negative-wgs")
	e.accept(t, v1)
	v2 := report(t, "negative-wgs")
	v2.Version, v2.Status = 2, gateway.StatusCorrected
	v2.Patient.NHSNumber, v2.Patient.MRN = "9990001316", "MRN01316"
	v2.OrderingTrust, v2.CopyTo = gateway.Organisation{ODSCode: "RBS"}, []gateway.Organisation{{ODSCode: "A81001"}} // RBS: no route, held
	rec, _ := e.accept(t, v2)
	ctx := context.Background()
	d, err := store.Delivery(ctx, gateway.DeliveryID(rec.ID, 2, "gp"))
	if err != nil || string(d.Payload) != "patient 9990001316 corrected; previous " {
		t.Errorf("the GP, new to the report: %v %q", err, d.Payload)
	}
	routes["RBS"] = []string{"r0a"} // RBS's reports now go where R0A's do
	if n, err := in.RouteHeld(ctx); err != nil || n != 1 {
		t.Fatalf("released %d: %v", n, err)
	}
	if d, err := store.Delivery(ctx, gateway.DeliveryID(rec.ID, 2, "r0a")); err != nil || string(d.Payload) != "patient 9990001316 corrected; previous " {
		t.Errorf("the held report at r0a: %v %+v", err, d)
	}
}

// pdfRoutes are trustRoutes whose destinations take the PDF.
type pdfRoutes struct{ trustRoutes }

func (p pdfRoutes) Routes(trust string) []gateway.Route {
	out := p.trustRoutes.Routes(trust)
	for i := range out {
		out[i].Format = gateway.FormatPDF
	}
	return out
}

func (p pdfRoutes) Destination(name string) (gateway.Route, bool) {
	rt, ok := p.trustRoutes.Destination(name)
	rt.Format = gateway.FormatPDF
	return rt, ok
}

// A correction that moves a result between two patients of one trust: the
// trust's PDF destination, which filed the first patient's PDF under that
// patient, gets a withdrawal for the first patient beside the corrected
// report's PDF for the second; a further correction for the second patient
// goes as a PDF alone.
func TestCorrectionWithinATrustWithdrawsTheFirstPatientsPDF(t *testing.T) {
	e := newLifecycle(t, nil)
	e.in.Router = pdfRoutes{trustRoutes{"R0A": {"r0a-pdf"}}}
	first := e.acceptFirst(t)
	rec, _ := e.accept(t, movedTo9990001316(t))
	ctx := context.Background()
	spaced := func(nhs string) string { return nhs[:3] + " " + nhs[3:6] + " " + nhs[6:] } // as the PDF prints it
	for id, want := range map[string]struct {
		withdrawal bool
		has, lacks []string
	}{
		gateway.DeliveryID(rec.ID, 2, "r0a-pdf"):                 {false, []string{spaced("9990001316")}, []string{spaced(first), "WITHDRAWN"}},
		gateway.DeliveryID(rec.ID, 2, "r0a-pdf") + "~withdrawal": {true, []string{spaced(first), "WITHDRAWN from this patient"}, []string{spaced("9990001316")}},
	} {
		d, err := e.store.Delivery(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		text := peers.PDFText(t, d.Payload)
		if d.Withdrawal != want.withdrawal || d.ContentType != "application/pdf" {
			t.Errorf("%s: withdrawal %v, %s", id, d.Withdrawal, d.ContentType)
		}
		for _, s := range want.has {
			if !strings.Contains(text, s) {
				t.Errorf("%s's PDF lacks %q", id, s)
			}
		}
		for _, s := range want.lacks {
			if strings.Contains(text, s) {
				t.Errorf("%s's PDF holds %q", id, s)
			}
		}
	}
	// Back to the first patient: the destination holds version 2, the
	// second patient's (not the withdrawal sent beside it), so that is
	// withdrawn in turn; then a correction for the same patient goes alone.
	for v := 3; v <= 4; v++ {
		r := report(t, "negative-wgs")
		r.Version, r.Status = v, gateway.StatusCorrected
		r.Result.Conclusion += strings.Repeat(" Corrected again.", v)
		e.accept(t, r)
	}
	versions := map[int][]string{}
	ds, _ := e.store.Deliveries(ctx, gateway.DeliveryFilter{ReportID: rec.ID})
	for _, d := range ds {
		versions[d.Version] = append(versions[d.Version], strings.TrimPrefix(d.ID, gateway.DeliveryID(rec.ID, d.Version, "r0a-pdf")))
	}
	for v, want := range map[int][]string{3: {"", "~withdrawal"}, 4: {""}} {
		if slices.Sort(versions[v]); !slices.Equal(versions[v], want) {
			t.Errorf("version %d went as %q, want %q", v, versions[v], want)
		}
	}
	if d, err := e.store.Delivery(ctx, gateway.DeliveryID(rec.ID, 3, "r0a-pdf")+"~withdrawal"); err != nil || !strings.Contains(peers.PDFText(t, d.Payload), spaced("9990001316")) {
		t.Errorf("version 3's withdrawal is not of the second patient's: %v", err)
	}
}

// A negative result reporting a pathogenic variant is filed as sent, with
// a warning naming the variant; a positive one has no such warning.
func TestNegativeWithAPathogenicVariantIsWarnedOf(t *testing.T) {
	e := newLifecycle(t, trustRoutes{"R0A": {"r0a"}})
	r := report(t, "trio-wgs-denovo-positive")
	if rec, _ := e.accept(t, r); hasWarning(rec, "the result is negative") {
		t.Fatal("a positive report was warned of as negative")
	}
	r = report(t, "trio-wgs-denovo-positive")
	r.ID, r.Result.Outcome = "NEG-PATH-1", "negative"
	rec, _ := e.accept(t, r)
	if !hasWarning(rec, "the result is negative, but variant "+r.Variants[0].ID+" is classified pathogenic") {
		t.Fatalf("no warning: %v", rec.Warnings)
	}
	// A cascade test reporting the family's pathogenic variant absent is rightly negative.
	r = report(t, "trio-wgs-denovo-positive")
	r.ID, r.Result.Outcome = "NEG-CASCADE-1", "negative"
	for i := range r.Variants {
		r.Variants[i].Assessment = "absent"
	}
	if rec, _ := e.accept(t, r); hasWarning(rec, "the result is negative") {
		t.Fatalf("a variant reported absent was warned of: %v", rec.Warnings)
	}
}
