// Package v2intake takes HL7 v2 ORU^R01 messages in, over HTTP or MLLP, and
// answers each with the acknowledgement HL7 senders expect: AA only once the
// report is durably stored; AE with an ERR per problem, located by segment,
// field and component, when the content is wrong; AR when the gateway cannot
// take it now, so the sender tries again. Original and enhanced
// acknowledgement modes (MSH-15/MSH-16) are both honoured.
package v2intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/hl7"
	"github.com/nhs-genomics/results-gateway/mappers/hl7v2"
)

// Sender is a lab system allowed to send HL7 v2, identified by MSH-3
// (application) and MSH-4 (facility); it submits as the lab LabODS.
//
// Over MLLP a message's MSH-3/MSH-4 only say which sender it claims to be
// from; the connection must prove it: the sender is bound to the names in
// its TLS client certificate and/or the addresses it connects from. A
// sender bound to neither may send over HTTP (with its lab's token) only.
type Sender struct {
	Application string              `json:"application"` // MSH-3.1; empty matches any
	Facility    string              `json:"facility"`    // MSH-4.1
	LabODS      string              `json:"labOdsCode"`
	Options     hl7v2.SenderOptions `json:"options"`
	// ClientCertificates are names (subject CN or a DNS, URI or email SAN)
	// of the verified TLS client certificates this sender connects with.
	ClientCertificates []string `json:"clientCertificates,omitempty"`
	// SourceAddresses are the IP addresses or CIDR ranges it connects from.
	SourceAddresses []string `json:"sourceAddresses,omitempty"`
}

// Peer is the other end of an MLLP connection: its address and the names
// in its verified TLS client certificate (none without mutual TLS).
type Peer struct {
	Addr  netip.Addr
	Names []string
}

// Bound reports whether a connection from p may carry this sender's
// messages: every binding the sender has must hold, and it needs one.
func (snd Sender) Bound(p Peer) bool {
	if len(snd.ClientCertificates) == 0 && len(snd.SourceAddresses) == 0 {
		return false
	}
	if len(snd.ClientCertificates) > 0 && !slices.ContainsFunc(p.Names, func(n string) bool { return slices.Contains(snd.ClientCertificates, n) }) {
		return false
	}
	if len(snd.SourceAddresses) > 0 && !slices.ContainsFunc(snd.SourceAddresses, func(a string) bool { return inRange(a, p.Addr) }) {
		return false
	}
	return true
}

// inRange reports whether addr is the address a or in the CIDR range a.
func inRange(a string, addr netip.Addr) bool {
	addr = addr.Unmap()
	if pfx, err := netip.ParsePrefix(a); err == nil {
		return pfx.Contains(addr)
	}
	ip, err := netip.ParseAddr(a)
	return err == nil && ip.Unmap() == addr
}

// CheckBindings returns the problems of the senders' connection bindings.
func CheckBindings(senders []Sender) []error {
	var errs []error
	for i, snd := range senders {
		for _, a := range snd.SourceAddresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				if _, err := netip.ParseAddr(a); err != nil {
					errs = append(errs, fmt.Errorf("hl7.senders[%d].sourceAddresses: %q is not an IP address or CIDR range", i, a))
				}
			}
		}
		for _, n := range snd.ClientCertificates {
			if strings.TrimSpace(n) == "" {
				errs = append(errs, fmt.Errorf("hl7.senders[%d].clientCertificates: an empty name", i))
			}
		}
	}
	return errs
}

// Service handles HL7 v2 messages.
type Service struct {
	Intake  *gateway.Intake
	Senders []Sender
	Audit   gateway.AuditLog // every message that creates or resends a report is recorded
	Now     func() time.Time
	Log     *slog.Logger
	// Observer is told each message's outcome and acknowledgements (metrics); nil: none.
	Observer gateway.Observer
	// Messages keeps every message as received, with its outcome; nil: none.
	Messages gateway.MessageLog
	seq      atomic.Int64
}

// Result is what to send back: over MLLP the acknowledgements each message
// asked for (enhanced mode may send a commit acknowledgement then an
// application one; NE none); over HTTP, which must always answer, every
// message's application acknowledgement. Unavailable says the failure was
// temporary (HTTP answers 503 then).
type Result struct {
	Acks        [][]byte
	HTTP        []byte
	Code        string // the worst application acknowledgement code: AR, then AE, then AA
	Unavailable bool

	// For the one log line and the metrics of each message.
	controlID, reportID, sender string
	created                     bool
	warnings, unmapped          int
	errorCodes                  []string // ERR-3 of the errors (severity E)
	reasons                     []string // their texts, for the message log
	raw                         []byte   // the message as received
	sentCodes                   []string // MSA-1 of each acknowledgement sent over MLLP
	logged                      bool     // the message log's entry was stored with the report
}

func (r *Result) add(one Result) {
	r.Acks = append(r.Acks, one.Acks...)
	r.HTTP = append(r.HTTP, one.HTTP...)
	r.Unavailable = r.Unavailable || one.Unavailable
	if rank[one.Code] > rank[r.Code] {
		r.Code = one.Code
	}
}

var rank = map[string]int{hl7.AA: 1, hl7.AE: 2, hl7.AR: 3}

// Handle takes what a lab sent: one message, a batch (FHS/BHS) or several
// messages back to back, each filed (or refused) on its own and answered
// with its own acknowledgement. who is the authenticated lab for HTTP; nil
// for MLLP, where peer is the connection, which must be bound to the
// sender the message's MSH-3/MSH-4 name.
func (s *Service) Handle(ctx context.Context, who *gateway.Principal, peer *Peer, data []byte) Result {
	data, charsetNote := hl7v2.ToUTF8(data)
	msgs, err := hl7.SplitBatch(data)
	if err != nil {
		m, perr := hl7.Parse(data)
		if perr != nil {
			// Not HL7 at all (no MSH): still answered, logged and counted, so
			// "what happened to my message?" has an answer.
			res := s.reply(headerOf(data), hl7.AE, "", []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1}, Code: "100", Text: perr.Error()}})
			res.raw, res.sender = s.kept(who, peer, data), s.unparsedSender(who, peer)
			s.record(who, res)
			return res
		}
		msgs = []*hl7.Message{m}
	}
	hexCharset := hl7v2.HexCharset(data)
	var res Result
	for _, m := range msgs {
		m.HexCharset = hexCharset
		one := s.handleOne(ctx, who, peer, m, charsetNote)
		one.raw = s.kept(who, peer, one.raw)
		s.record(who, one)
		res.add(one)
	}
	return res
}

// record logs one line per inbound message, answering "what happened to
// my message?" without patient data (control id, sender, report id,
// outcome, error codes), and feeds the metrics.
func (s *Service) record(who *gateway.Principal, one Result) {
	transport, sent := transportOf(who), one.sentCodes
	if who != nil {
		sent = []string{one.Code}
	}
	outcome := map[string]string{hl7.AA: "accepted", hl7.AE: "refused", hl7.AR: "unavailable"}[one.Code]
	if one.Code == hl7.AA && !one.created {
		outcome = "resent"
	}
	if one.Code == hl7.AR && !one.Unavailable {
		outcome = "refused" // not bound to its sender, or a message type the gateway does not take
	}
	s.Log.Info("hl7 message", "transport", transport, "outcome", outcome, "ack", one.Code, "control_id", one.controlID,
		"sender", one.sender, "report_id", one.reportID, "warnings", one.warnings, "unmapped", one.unmapped, "errors", one.errorCodes)
	if s.Messages != nil && !one.logged {
		m := s.newMessage(transport, one.sender, one.controlID, one.raw)
		m.ReportID, m.Outcome, m.Reasons = one.reportID, outcome, one.reasons
		if err := s.Messages.RecordMessage(context.Background(), m); err != nil {
			s.Log.Error("message log write failed", "control_id", one.controlID, "error", err)
		}
	}
	if s.Observer != nil {
		s.Observer.Received("hl7v2-"+transport, outcome, one.warnings, one.unmapped)
		for _, c := range sent {
			s.Observer.Acknowledged(transport, c)
		}
	}
}

// newMessage is the message log's entry for a message, its outcome still to say.
func (s *Service) newMessage(transport, sender, controlID string, raw []byte) *gateway.InboundMessage {
	now := s.Now().UTC()
	return &gateway.InboundMessage{ID: gateway.NewMessageID(now), ReceivedAt: now, Source: "hl7v2-" + transport, Sender: sender,
		ControlID: controlID, Raw: raw}
}

// transportOf names how a message came: HTTP, from an authenticated lab
// (who), or MLLP.
func transportOf(who *gateway.Principal) string {
	if who != nil {
		return "http"
	}
	return "mllp"
}

// senderOf is how the message log and the log lines name a message's
// sender: MSH-3/MSH-4.
func senderOf(m *hl7.Message, msh *hl7.Segment) string {
	return m.Value(msh, 3, 1) + "/" + m.Value(msh, 4, 1)
}

// unparsedSender names the sender of a message with no MSH to name it:
// the lab's token over HTTP; over MLLP the senders the connection is bound
// to, or the address of a connection bound to none.
func (s *Service) unparsedSender(who *gateway.Principal, peer *Peer) string {
	if who != nil {
		return who.Subject
	}
	if bound := s.boundTo(peer); len(bound) > 0 {
		return strings.Join(bound, " or ")
	}
	if peer != nil && peer.Addr.IsValid() {
		return "unbound connection from " + peer.Addr.String()
	}
	return "unbound connection"
}

// boundTo names the senders an MLLP connection is bound to.
func (s *Service) boundTo(peer *Peer) []string {
	var bound []string
	for _, snd := range s.Senders {
		if peer != nil && snd.Bound(*peer) {
			bound = append(bound, snd.Application+"/"+snd.Facility)
		}
	}
	return bound
}

// kept is the content the message log keeps of a message: all of it from
// an authenticated lab (HTTP) or a connection bound to a sender; nothing
// from a connection bound to none, whose messages (a spoof, a scan, a
// misconfigured LIMS) are logged as refused but not stored.
func (s *Service) kept(who *gateway.Principal, peer *Peer, raw []byte) []byte {
	if who == nil && len(s.boundTo(peer)) == 0 {
		return nil
	}
	return raw
}

// handleOne files one message and builds its acknowledgements.
func (s *Service) handleOne(ctx context.Context, who *gateway.Principal, peer *Peer, m *hl7.Message, charsetNote string) Result {
	msh := m.First("MSH")
	sender, ok := s.sender(m, who, peer)
	if !ok && who == nil && peer != nil && s.claimed(m) {
		// A configured sender's name from a connection not bound to it: a
		// spoof or a misconfiguration. Refused whole, stored nowhere.
		s.Log.Warn("mllp message from a connection not bound to its sender", "control_id", m.Value(msh, 10, 0),
			"claimed_facility", m.Value(msh, 4, 1), "remote", peer.Addr.String())
		res := s.reply(m, hl7.AR, "", []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1, Field: 4}, Code: "207",
			Text: fmt.Sprintf("sender %s/%s may not send from this connection (its client certificate or address is not the one configured for it)",
				m.Value(msh, 3, 1), m.Value(msh, 4, 1))}})
		res.Unavailable = false
		res.raw = nil // logged as refused, its content not kept: it is not who it says it is
		return res
	}
	if !ok {
		return s.reply(m, hl7.AE, "", []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1, Field: 4}, Code: "207",
			Text: fmt.Sprintf("sender %s/%s is not allowed to send results", m.Value(msh, 3, 1), m.Value(msh, 4, 1))}})
	}
	decoded, err := hl7v2.Decode(m, sender.LabODS, sender.Options)
	if err != nil {
		return s.reply(m, ackCode(err), "", decodeErrors(err))
	}
	r := decoded.Report
	if decoded.EarlierID != "" {
		if err := s.earlierID(ctx, r, decoded); err != nil {
			return s.reply(m, hl7.AR, "", []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1}, Code: "207", Text: "the store is unavailable: send again later"}})
		}
	}
	refuse, warnings := gateway.ValidateLenient(r)
	unreadable := false
	if decoded.Carried {
		var w *gateway.Warning
		if refuse, w = gateway.FileUnreadable(refuse); w != nil {
			warnings, unreadable = append(warnings, *w), true
		}
	}
	warnings = located(decoded, append(decoded.Warnings, warnings...))
	if charsetNote != "" {
		warnings = append([]gateway.Warning{{Source: "MSH[1]-18", Message: charsetNote}}, warnings...)
	}
	if note, field := ackModeNote(m); note != "" {
		warnings = append(warnings, gateway.Warning{Source: fmt.Sprintf("MSH[1]-%d", field), Message: note})
	}
	var problems []hl7.AckError
	for _, rf := range decoded.Refusals {
		problems = append(problems, hl7.AckError{Location: rf.At, Code: "102", Text: rf.Problem.Path + " " + rf.Problem.Message})
	}
	for _, p := range refuse {
		problems = append(problems, hl7.AckError{Location: decoded.Locate(p.Path), Code: errorCode(p), Text: p.Path + " " + p.Message})
	}
	if sender.Options.RejectUnmapped {
		for _, u := range decoded.Unmapped {
			problems = append(problems, hl7.AckError{Location: location(u.Location), Code: "103", Text: u.Location + " " + u.Code + ": " + u.Reason})
		}
	}
	if len(problems) > 0 {
		s.Log.Info("hl7 message refused", "control_id", m.Value(msh, 10, 0), "sender", sender.LabODS, "problems", len(problems))
		res := s.reply(m, hl7.AE, "", append(problems, warningErrors(warnings, nil)...))
		res.reportID = r.ID // the report the message names, so the message log finds the refusal under it
		return res
	}
	principal := gateway.Principal{Subject: "hl7:" + m.Value(msh, 3, 1), Role: gateway.RoleLab, ODSCode: sender.LabODS}
	if who != nil {
		principal = *who
	}
	messageID := m.Value(msh, 3, 1) + "|" + m.Value(msh, 4, 1) + "|" + m.Value(msh, 10, 0)
	entry := &gateway.AuditEntry{At: s.Now().UTC(), Subject: principal.Subject, Role: principal.Role, ODSCode: principal.ODSCode,
		Action: "create", What: "report " + r.ID + " via HL7 v2 " + m.Value(msh, 10, 0), Outcome: "success"} // stored with the report, in one step
	var logged *gateway.InboundMessage // stored with a new report, in one step
	if s.Messages != nil {
		logged = s.newMessage(transportOf(who), senderOf(m, msh), m.Value(msh, 10, 0), m.Bytes())
		logged.Outcome = "accepted"
	}
	rec, created, err := s.Intake.Accept(ctx, principal, r, gateway.Submission{Source: "hl7v2", MessageID: messageID,
		Unmapped: decoded.Unmapped, Lenient: true, Warnings: warnings, VolatileIssued: decoded.IssuedFromMessage, Unreadable: unreadable,
		Audit: entry, Message: logged})
	if err != nil {
		var e *gateway.Error
		var errs []hl7.AckError
		if errors.As(err, &e) && e.Code != gateway.ECONFLICT { // a conflict is with what is stored: said at OBR-3 below
			for _, p := range e.Problems {
				errs = append(errs, hl7.AckError{Location: decoded.Locate(p.Path), Code: "102", Text: p.Path + " " + p.Message})
			}
		}
		if len(errs) == 0 {
			text := "the gateway could not store the report now; send it again later"
			if e != nil && gateway.ErrorCode(err) != gateway.EUNAVAILABLE && gateway.ErrorCode(err) != gateway.EINTERNAL {
				text = e.Message
			}
			errs = []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "OBR", Sequence: 1, Field: 3}, Code: "207", Text: text}}
		}
		if code := ackCode(err); code == hl7.AR {
			s.Log.Warn("hl7 message not taken now", "report_id", r.ID, "error", err)
		}
		res := s.reply(m, ackCode(err), "", errs)
		res.reportID = r.ID
		return res
	}
	if s.Audit != nil && !created { // a new report's entry was stored with it
		e := *entry
		e.Action, e.Reports = "resend", []string{rec.ID}
		if err := s.Audit.Audit(context.WithoutCancel(ctx), e); err != nil {
			s.Log.Error("audit write failed", "report_id", rec.ID, "error", err)
		}
	}
	note := fmt.Sprintf("stored as report %s version %d", rec.ID, rec.Version)
	if !created {
		note = fmt.Sprintf("already stored as report %s version %d", rec.ID, rec.Version)
	}
	if rec.Held {
		note += "; held: no destination is configured for trust " + rec.TrustODS
	}
	res := s.reply(m, hl7.AA, note, warningErrors(rec.Warnings, rec.Unmapped))
	res.reportID, res.created, res.warnings, res.unmapped = rec.ID, created, len(rec.Warnings), len(rec.Unmapped)
	res.logged = created && logged != nil
	return res
}

// located gives each warning its place in the message, and words it for a
// sender: a field the gateway's schema requires is "missing from the message".
func located(d *hl7v2.Decoded, warnings []gateway.Warning) []gateway.Warning {
	seen := map[string]bool{}
	out := make([]gateway.Warning, 0, len(warnings))
	for _, w := range warnings {
		if w.Source == "" {
			l := d.Locate(w.Path)
			w.Source = fmt.Sprintf("%s[%d]", l.Segment, max(l.Sequence, 1))
			if l.Field > 0 {
				w.Source += fmt.Sprintf("-%d", l.Field)
			}
			w.Message = strings.Replace(w.Message, "is required", "is missing from the message: left out of the outputs", 1)
			if seen[w.Path] { // the decoder already said what is wrong here
				continue
			}
		}
		seen[w.Path] = true
		out = append(out, w)
	}
	return out
}

// maxAckNotes bounds the warnings and notes an acknowledgement carries;
// every one is on the report (GET /v1/reports/{id}) whatever the ACK holds.
const maxAckNotes = 40

// warningErrors are ERR segments with severity W for warnings and I for
// content listed as unmapped.
func warningErrors(warnings []gateway.Warning, unmapped []gateway.Unmapped) []hl7.AckError {
	var out []hl7.AckError
	for _, w := range warnings {
		out = append(out, hl7.AckError{Location: location(w.Source), Code: warningCode(w.Message), Severity: "W", Text: strings.TrimSpace(w.Path + " " + w.Message)})
	}
	for _, u := range unmapped { // table 0357 "0": accepted, this is information
		out = append(out, hl7.AckError{Location: location(u.Location), Code: "0", Severity: "I", Text: u.Location + " not mapped: " + u.Reason})
	}
	if len(out) > maxAckNotes {
		rest := len(out) - maxAckNotes + 1
		out = append(out[:maxAckNotes-1], hl7.AckError{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1}, Code: "207", Severity: "I",
			Text: fmt.Sprintf("%d more warnings and unmapped items are listed on the report", rest)})
	}
	return out
}

// warningCode is the table 0357 code that says what kind of warning it is:
// 101 something missing, 103 a value the gateway does not know, else 102.
func warningCode(message string) string {
	switch {
	case strings.Contains(message, "missing") || strings.HasPrefix(message, "no ") || strings.Contains(message, "is required"):
		return "101"
	case strings.Contains(message, "not recognised") || strings.Contains(message, "not in the") || strings.Contains(message, "not one of"):
		return "103"
	}
	return "102"
}

// errorCode is the table 0357 code for a refusal: 101 when something
// required is missing, 102 otherwise.
func errorCode(p gateway.Problem) string {
	if strings.Contains(p.Message, "is required") || strings.Contains(p.Message, "does not identify") || strings.Contains(p.Message, "nothing to file") {
		return "101"
	}
	return "102"
}

// ackModeNote says when MSH-15/MSH-16 hold values outside table 0155: the
// message is then answered in original mode, never left unanswered.
func ackModeNote(m *hl7.Message) (string, int) {
	msh := m.First("MSH")
	for _, f := range []int{15, 16} {
		if v := strings.ToUpper(m.Value(msh, f, 0)); v != "" && !ackConditions[v] {
			return fmt.Sprintf("MSH-%d %q is not an acknowledgement condition (AL, NE, ER, SU): answered in original mode", f, v), f
		}
	}
	return "", 0
}

var ackConditions = map[string]bool{"AL": true, "NE": true, "ER": true, "SU": true}

// sender finds who sent the message: the HTTP caller, or an allowed MLLP sender.
func (s *Service) sender(m *hl7.Message, who *gateway.Principal, peer *Peer) (Sender, bool) {
	msh := m.First("MSH")
	app, facility := m.Value(msh, 3, 1), m.Value(msh, 4, 1)
	matches := func(snd Sender) bool {
		return snd.Facility == facility && (snd.Application == "" || snd.Application == app)
	}
	if who != nil { // an HTTP lab: its own sender entry for this LIMS, else its first, for the reading options
		var mine []Sender
		for _, snd := range s.Senders {
			if snd.LabODS == who.ODSCode {
				mine = append(mine, snd)
			}
		}
		for _, snd := range mine {
			if matches(snd) {
				return snd, true
			}
		}
		if len(mine) > 0 {
			return mine[0], true
		}
		return Sender{LabODS: who.ODSCode}, true
	}
	for _, snd := range s.Senders {
		if matches(snd) && peer != nil && snd.Bound(*peer) {
			return snd, true
		}
	}
	return Sender{}, false
}

// claimed reports whether the message names a configured sender (MSH-3/MSH-4).
func (s *Service) claimed(m *hl7.Message) bool {
	msh := m.First("MSH")
	app, facility := m.Value(msh, 3, 1), m.Value(msh, 4, 1)
	return slices.ContainsFunc(s.Senders, func(snd Sender) bool {
		return snd.Facility == facility && (snd.Application == "" || snd.Application == app)
	})
}

// ackCode: content problems are AE (do not resend unchanged); the gateway
// being unable to take it now is AR (resend later); so is a message type it
// does not take.
func ackCode(err error) string {
	switch gateway.ErrorCode(err) {
	case gateway.EUNAVAILABLE, gateway.EINTERNAL, gateway.EUNSUPPORTED:
		return hl7.AR
	}
	return hl7.AE
}

func decodeErrors(err error) []hl7.AckError {
	var e *gateway.Error
	if !errors.As(err, &e) {
		return []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1}, Code: "207", Text: "internal error"}}
	}
	if e.Code == gateway.EUNSUPPORTED {
		return []hl7.AckError{{Location: hl7.ErrorLocation{Segment: "MSH", Sequence: 1, Field: 9}, Code: "200", Text: e.Message}}
	}
	var out []hl7.AckError
	for _, p := range e.Problems {
		out = append(out, hl7.AckError{Location: location(p.Path), Code: "100", Text: p.Message})
	}
	return out
}

// location turns "OBX[7]-3" into an ERR location.
func location(s string) hl7.ErrorLocation {
	var seq, field int
	seg := s[:min(3, len(s))]
	fmt.Sscanf(s, seg+"[%d]-%d", &seq, &field)
	return hl7.ErrorLocation{Segment: seg, Sequence: max(seq, 1), Field: field}
}

// reply builds the acknowledgement(s) for code, in the message's mode.
func (s *Service) reply(m *hl7.Message, code, note string, errs []hl7.AckError) Result {
	msh := m.First("MSH")
	accept, app := strings.ToUpper(m.Value(msh, 15, 0)), strings.ToUpper(m.Value(msh, 16, 0))
	if (accept != "" && !ackConditions[accept]) || (app != "" && !ackConditions[app]) {
		accept, app = "", "" // not table 0155 values: original mode, so the sender always hears back
	}
	res := Result{Code: code, Unavailable: code == hl7.AR && (len(errs) == 0 || errs[0].Code != "200"),
		controlID: m.Value(msh, 10, 0), sender: senderOf(m, msh)}
	res.raw = m.Bytes()
	for _, e := range errs {
		if code != hl7.AA && (e.Severity == "" || e.Severity == "E") { // the warnings sent beside errors are not why it was refused
			res.errorCodes, res.reasons = append(res.errorCodes, e.Code), append(res.reasons, e.Text)
		}
	}
	build := func(c string) []byte {
		id := fmt.Sprintf("RG%s%d", s.Now().UTC().Format("20060102150405"), s.seq.Add(1))
		ack := hl7.Ack(m, c, id, errs, s.Now())
		if note != "" {
			ack = withNote(m, ack, note)
		}
		return ack
	}
	send := func(c string) { res.Acks, res.sentCodes = append(res.Acks, build(c)), append(res.sentCodes, c) }
	res.HTTP = build(code)
	if accept == "" && app == "" { // original mode
		res.Acks, res.sentCodes = [][]byte{res.HTTP}, []string{code}
		return res
	}
	commit := map[string]string{hl7.AA: hl7.CA, hl7.AE: hl7.CE, hl7.AR: hl7.CR}[code]
	if wanted(accept, code) {
		send(commit)
	}
	if wanted(app, code) {
		send(code)
	}
	return res
}

// wanted applies an acknowledgement condition (HL7 table 0155).
func wanted(condition, code string) bool {
	switch condition {
	case "AL":
		return true
	case "ER":
		return code != hl7.AA
	case "SU":
		return code == hl7.AA
	}
	return false // NE or empty
}

// withNote puts a human note in MSA-3 of an accepting acknowledgement.
func withNote(m *hl7.Message, ack []byte, note string) []byte {
	a, err := hl7.Parse(ack)
	if err != nil {
		return ack
	}
	msa := a.First("MSA")
	for len(msa.Fields) < 4 {
		msa.Fields = append(msa.Fields, "")
	}
	msa.Fields[3] = a.Delims.EscapeText(note)
	return a.Bytes()
}

// earlierID files a report under the id an earlier release gave its lab
// number (Decoded.EarlierID) when one is stored there, from this lab, for
// the same patient, and none under the id this release gives it: so a
// correction of a report filed before the upgrade still corrects it. For
// another patient it is another report, under its own id.
func (s *Service) earlierID(ctx context.Context, r *gateway.Report, d *hl7v2.Decoded) error {
	if _, err := s.Intake.Reports.Report(ctx, r.ID); gateway.ErrorCode(err) != gateway.ENOTFOUND {
		return ignoreNotFound(err)
	}
	rec, err := s.Intake.Reports.Report(ctx, d.EarlierID)
	if err != nil {
		return ignoreNotFound(err)
	}
	old, err := rec.DecodeReport()
	if err != nil || rec.LabODS != r.PerformingLab.ODSCode || gateway.PatientChanged(old, r) {
		return nil
	}
	d.Warnings = append(d.Warnings, gateway.Warning{Path: "id", Source: "OBR[1]-3",
		Message: fmt.Sprintf("filed under %s, the id an earlier release gave this number, where this patient's report is", d.EarlierID)})
	r.ID = d.EarlierID
	return nil
}

func ignoreNotFound(err error) error {
	if gateway.ErrorCode(err) == gateway.ENOTFOUND {
		return nil
	}
	return err
}

// headerOf is what an acknowledgement of a message that cannot be parsed
// answers: its MSH, if that line parses, so the ACK names the message's
// control id and sender (a LIMS matches ACKs by MSH-10, and waits for an
// ACK that never matches otherwise); else a bare header.
func headerOf(data []byte) *hl7.Message {
	data = bytes.TrimLeft(data, "\ufeff\r\n\t ")
	if end := bytes.IndexAny(data, "\r\n"); end > 0 {
		if m, err := hl7.Parse(data[:end]); err == nil && m.First("MSH") != nil {
			return m
		}
	}
	return fallback()
}

// fallback gives an unparseable message a header to acknowledge against.
func fallback() *hl7.Message {
	m, _ := hl7.Parse([]byte("MSH|^~\\&|||||||ACK||P|2.5.1\r"))
	return m
}
