package gateway

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// InboundMessage is one report or message as it arrived, accepted or not,
// so integration staff can answer a lab's "what happened to my message?".
// Raw is the content exactly as received (JSON or ER7); it is shown only
// to operators who ask for it, and each view is audited.
type InboundMessage struct {
	ID         string    `json:"id"` // sorts by arrival
	ReceivedAt time.Time `json:"receivedAt"`
	Source     string    `json:"source"`              // json, hl7v2-http, hl7v2-mllp
	Sender     string    `json:"sender"`              // the token's name, or MSH-3/MSH-4
	ControlID  string    `json:"controlId,omitempty"` // MSH-10
	ReportID   string    `json:"reportId,omitempty"`
	Outcome    string    `json:"outcome"` // accepted, resent, refused, unavailable
	Reasons    []string  `json:"reasons,omitempty"`
	Raw        []byte    `json:"-"`
	// PDFOf, when set on an accepted message, names the stored report
	// version whose PDF the raw content carries (as a JSON base64 string):
	// stores may keep the raw content without it and put it back from that
	// version's PDF when the message is read.
	PDFOf *VersionRef `json:"pdfOf,omitempty"`
	// PDF is that version's PDF, given when recording (not stored here).
	PDF []byte `json:"-"`
	// PDFAt is where Raw holds PDF's standard base64 as a JSON string (its
	// opening quote), when the decoder said so; 0 when not known.
	PDFAt int `json:"-"`
}

// VersionRef names one stored version of a report.
type VersionRef struct {
	ReportID string `json:"reportId"`
	Version  int    `json:"version"`
}

var messageSeq atomic.Uint64

// NewMessageID is an id that sorts by arrival across a process's messages.
func NewMessageID(at time.Time) string {
	return fmt.Sprintf("%020d-%06d", at.UnixNano(), messageSeq.Add(1)%1000000)
}

// MessageFilter selects inbound messages; empty fields match all.
type MessageFilter struct {
	Outcome, ReportID, ControlID, Sender, Source string
	From, To                                     time.Time // received in [From, To); zero: unbounded
	Before                                       string    // a message id: only older messages (the next page)
	Limit                                        int       // 0 means 100
}

// Matches reports whether m passes the filter.
func (f MessageFilter) Matches(m *InboundMessage) bool {
	return (f.Outcome == "" || f.Outcome == m.Outcome) && (f.ReportID == "" || f.ReportID == m.ReportID) &&
		(f.ControlID == "" || f.ControlID == m.ControlID) && (f.Sender == "" || f.Sender == m.Sender) &&
		(f.Source == "" || f.Source == m.Source) && (f.Before == "" || m.ID < f.Before) &&
		(f.From.IsZero() || !m.ReceivedAt.Before(f.From)) && (f.To.IsZero() || m.ReceivedAt.Before(f.To))
}

// Upper is the id the newest-first walk starts below ("" for the newest):
// the earlier of Before and To.
func (f MessageFilter) Upper() string {
	upper := f.Before
	if !f.To.IsZero() {
		if to := fmt.Sprintf("%020d", f.To.UnixNano()); upper == "" || to < upper {
			upper = to
		}
	}
	return upper
}

// Lower is the id below which the walk can stop ("" for none).
func (f MessageFilter) Lower() string {
	if f.From.IsZero() {
		return ""
	}
	return fmt.Sprintf("%020d", f.From.UnixNano())
}

// MessageLog keeps inbound messages.
type MessageLog interface {
	// RecordMessage stores a message with its raw content.
	RecordMessage(ctx context.Context, m *InboundMessage) error
	// Messages lists messages matching f, newest first, without raw content.
	Messages(ctx context.Context, f MessageFilter) ([]*InboundMessage, error)
	// Message returns one message with its raw content (ENOTFOUND).
	Message(ctx context.Context, id string) (*InboundMessage, error)
}
