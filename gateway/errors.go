package gateway

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer has the one table that turns them into statuses.
const (
	EMALFORMED     = "malformed" // not parseable at all (bad JSON, bad ER7)
	EINVALID       = "invalid"   // parsed, but breaks a rule; Problems say where
	ECONFLICT      = "conflict"  // clashes with what is stored
	ENOTFOUND      = "not_found" // no such thing, or not yours to see
	EUNAUTHORIZED  = "unauthorized"
	EFORBIDDEN     = "forbidden"
	ETOOLARGE      = "too_large"
	EUNSUPPORTED   = "unsupported" // wrong content type
	EMETHOD        = "method_not_allowed"
	ENOTACCEPTABLE = "not_acceptable" // asked for a format the server does not speak
	EUNAVAILABLE   = "unavailable"    // cannot take it now; retry later
	EGONE          = "gone"           // was stored, and the retention policy has removed it
	EINTERNAL      = "internal"
)

// Problem is one thing wrong with an input, located by a path into it
// (a JSON path such as "variants[0].hgvs.c", or an HL7 v2 location).
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error is the gateway's application error. Message is safe to show the caller;
// it never carries patient data.
type Error struct {
	Code     string
	Message  string
	Problems []Problem
	// Cause is what went wrong underneath (a store's own error), for the
	// log, never for the caller: "OOM command not allowed" tells the
	// operator why Redis refused; the lab needs only "send it again".
	Cause error
}

func (e *Error) Unwrap() error { return e.Cause }

func (e *Error) Error() string {
	if len(e.Problems) > 0 {
		return fmt.Sprintf("%s: %s (%d problems)", e.Code, e.Message, len(e.Problems))
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// The conflicts a store finds when it saves a version, each located at
// the report's field the sender has to change (its id, or its version),
// so the answer says where as well as what.

// ErrOtherLabsReport: the id is another laboratory's report.
func ErrOtherLabsReport(id string) *Error {
	return conflictAt("id", "report id %s belongs to another laboratory", "%s belongs to another laboratory: use an id of your own", id)
}

// ErrPruned: the version was stored and the retention policy removed it.
func ErrPruned(id string, version int) *Error {
	return conflictAt("version", "report %s version %d was stored and has since been removed under the retention policy: it is not accepted again",
		"%[2]d of report %[1]s was stored and has since been removed under the retention policy: it is not accepted again", id, version)
}

// PrunedReport is why a report is not found when it was stored, by Lab,
// and the retention policy has since removed it. A store says so as the
// Cause of its ENOTFOUND; the HTTP layer tells only those who may know the
// report existed (its lab, operators), to everyone else it is not found.
type PrunedReport struct {
	ID, Lab string
	Version int // its latest version
}

func (p *PrunedReport) Error() string {
	return fmt.Sprintf("report %s (version %d) has been removed under the retention policy", p.ID, p.Version)
}

// ErrReportPruned is a store's answer for a report its retention removed.
func ErrReportPruned(id, lab string, version int) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf("report %s not found", id), Cause: &PrunedReport{ID: id, Lab: lab, Version: version}}
}

// ErrOlder: a newer version is stored.
func ErrOlder(id string, version int, stored string) *Error {
	return conflictAt("version", "report %s version %d is older than the stored version %s",
		"%[2]d of report %[1]s is older than the stored version %[3]s", id, version, stored)
}

// ErrOtherContent: the version is stored with other content.
func ErrOtherContent(id string, version int) *Error {
	return conflictAt("version", "report %s version %d is already stored with different content: send a higher version",
		"%[2]d of report %[1]s is already stored with different content: send a higher version", id, version)
}

func conflictAt(path, message, problem string, args ...any) *Error {
	return &Error{Code: ECONFLICT, Message: fmt.Sprintf(message, args...),
		Problems: []Problem{{Path: path, Message: fmt.Sprintf(problem, args...)}}}
}

// ErrorCode returns the code of err's *Error, or EINTERNAL for any other error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
